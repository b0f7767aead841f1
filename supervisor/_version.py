"""The daemon's version (one place, read by setuptools and ``--version``)."""

__version__ = "0.1.0"
