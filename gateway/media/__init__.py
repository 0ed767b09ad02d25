"""The gateway's own copy of every finished MP4, and signed links to it."""
