"""Storage: sinks, buffer, spool."""
