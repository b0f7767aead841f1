"""Built-in plugins: the Hyperliquid source, the memory buffer, the SQLite and TimescaleDB sinks.

Each registers through the ``candlewick`` entry-point group exactly as a third-party plugin does.
"""
