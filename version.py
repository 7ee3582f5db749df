"""The compiler version, recorded in every artifact's manifest."""

__version__ = "0.2.0"
