"""Hyperliquid source plugin: websocket candles, REST history, a shared weight budget.

Modules: ``protocol`` (sans-I/O frames and events), ``closing`` (closed-candle tracker),
``wsconn`` (websocket over anyio), ``rest`` (``candleSnapshot`` paging and coin checks),
``budget`` (the REST weight bucket), ``config``, ``source`` and ``plugin`` (the hook).
"""
