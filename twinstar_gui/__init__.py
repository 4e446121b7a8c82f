"""TwinStar: a desktop trading terminal for crypto traders."""
__version__ = "0.1.0"
