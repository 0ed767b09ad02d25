"""nemo-gateway: plain REST, signed webhooks and automation integrations for NemoVideo."""

__version__ = "0.1.0"
