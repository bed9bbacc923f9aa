"""expo: a self-hostable virtual expo platform."""

__version__ = "0.1.0"
