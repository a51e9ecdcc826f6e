"""seawall: keeps a social web platform online, and its users safe, while it is under attack."""

__version__ = "0.1.0"
