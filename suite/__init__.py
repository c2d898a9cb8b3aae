"""A registry of controlled experiments that check what a deep-learning textbook claims."""

__version__ = "0.1.0"
