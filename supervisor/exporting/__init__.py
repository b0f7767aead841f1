"""Getting candles out: byte encoders shared by ``candlewick export`` and the HTTP API, and freqtrade files."""
