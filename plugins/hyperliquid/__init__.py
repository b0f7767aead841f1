"""Hyperliquid source plugin: websocket candles, REST history, a shared weight budget.

Modules: ``protocol`` (sans-I/O frames and events), ``closing`` (closed-candle tracker),
``wsconn`` (websocket over anyio), ``rest`` (``candleSnapshot`` paging and coin checks),
``budget`` (the REST weight bucket), ``config``, ``source`` and ``plugin`` (the hook).
"""

import sys

# httpx (the REST client) imports its command-line client when click, rich and pygments happen
# to be installed, as they are for the TUI: about 10 MB resident that a daemon never uses.
# Marked absent, httpx falls back to its stub (whose ``httpx.main`` says what is missing).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
