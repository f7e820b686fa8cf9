"""Community tension monitor: flags rumours and rising tension in named places from public posts."""

__version__ = "0.1.0"
