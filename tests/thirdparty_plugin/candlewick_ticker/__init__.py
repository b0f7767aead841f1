"""candlewick-ticker: a synthetic candle source plugin."""
