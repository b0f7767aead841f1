"""Tests of the built-in plugins."""
