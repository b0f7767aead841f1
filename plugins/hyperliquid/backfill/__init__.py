"""Gap repair and backfill jobs for Hyperliquid: the ``hyperliquid-backfill`` companion source.

``history`` adapts the REST client to :class:`candlewick.gaps.history.History`; ``plugin``
registers the companion (built by the daemon beside ``[sources.hyperliquid]``).
"""
