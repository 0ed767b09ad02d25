"""The sandbox upstream: a local, faithful stand-in for the NemoVideo agent API.

For development, demos and tests only; it never replaces the cloud service.
"""
