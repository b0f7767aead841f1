"""A plugin module that fails at import time, as a broken third-party install would."""

raise ImportError("candlewick_ticker.broken needs libticker.so, which is not installed")
