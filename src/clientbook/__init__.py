"""clientbook: self-hosted customer records."""

__version__ = "0.1.0"
