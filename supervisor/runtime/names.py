"""Names of the metrics and event kinds shared by producers and every view.

Producers (sources, buffer, sinks, gap repair) count under these names; ``stats``, the TUI
and the Prometheus endpoint read them. Labels are given beside each name. The event kinds are
listed once, in :class:`candlewick.events.EventKind` (the wire schema and the TUI read it there).
"""

from __future__ import annotations

from typing import Final

from candlewick.events import EventKind

# -- sources (labels: source; per market also coin, interval) --------------------------------
FRAMES = "candlewick_frames_total"  # (source) every frame received
CANDLES_IN = "candlewick_candles_total"  # (source, coin, interval) candle updates received
MALFORMED = "candlewick_malformed_frames_total"  # (source) frames that failed validation
RECONNECTS = "candlewick_reconnects_total"  # (source) websocket reconnects
LAST_FRAME = "candlewick_last_frame_timestamp_seconds"  # (source, coin, interval) wall time of last frame
LAST_CANDLE = "candlewick_last_candle_open_timestamp_seconds"  # (coin, interval) open time of newest candle
REST_WEIGHT_USED = "candlewick_rest_weight_used_total"  # () REST weight spent
REST_WEIGHT_BUDGET = "candlewick_rest_weight_per_minute"  # () configured budget
REST_WEIGHT_LAST_MINUTE = "candlewick_rest_weight_last_minute"  # () REST weight spent in the last 60 s
REST_REQUESTS = "candlewick_rest_requests_total"  # (status) REST requests by HTTP status or "error"
#: (source, coin, interval) 1 while the exchange's open times disagree with candlewick's grid, 0 once checked fine
GRID_MISMATCH = "candlewick_grid_mismatch"
#: (source, coin, interval) during a mismatch: the open time candlewick's grid expects, and the one the exchange sent
GRID_EXPECTED_OPEN = "candlewick_grid_mismatch_expected_open_timestamp_seconds"
GRID_SEEN_OPEN = "candlewick_grid_mismatch_seen_open_timestamp_seconds"
#: (source) per-IP websocket limits in use: open connections, subscriptions, connects and messages in the last 60 s
WS_CONNECTIONS = "candlewick_ws_connections"
WS_SUBSCRIPTIONS = "candlewick_ws_subscriptions"
WS_CONNECTS_LAST_MINUTE = "candlewick_ws_connects_last_minute"
WS_MESSAGES_LAST_MINUTE = "candlewick_ws_messages_last_minute"
#: (source, coin, interval) 1 while the market's candles are derived from 1m candles, 0 when subscribed natively
DERIVED = "candlewick_derived"
#: (source, coin, interval) closed derived candles compared with the exchange's own
DERIVED_CHECKED = "candlewick_derived_checked_total"
#: (source, coin, interval) compared derived candles that differed from the exchange's (the row was replaced)
DERIVED_MISMATCHES = "candlewick_derived_mismatches_total"
CLOCK_OFFSET = "candlewick_clock_offset_seconds"  # (source) local wall clock minus the exchange's
CLOCK_OFFSET_UNCERTAINTY = "candlewick_clock_offset_uncertainty_seconds"  # (source) half-width of its interval

# -- buffer, spool, sink ---------------------------------------------------------------------
BUFFER_DEPTH = "candlewick_buffer_depth"  # () candles held in memory
BUFFER_CAPACITY = "candlewick_buffer_capacity"  # () max candles held before backpressure
COALESCED = "candlewick_coalesced_updates_total"  # () updates collapsed into a newer one
SPOOL_BATCHES = "candlewick_spool_batches"  # () batches waiting on disk
SPOOL_BYTES = "candlewick_spool_bytes"  # () bytes on disk
SPOOL_OLDEST_AGE = "candlewick_spool_oldest_age_seconds"  # () age of the oldest spooled batch
ROWS_WRITTEN = "candlewick_rows_written_total"  # (sink) rows upserted
WRITE_LATENCY = "candlewick_write_latency_seconds"  # (sink) duration of the last batch write
WRITE_ERRORS = "candlewick_write_errors_total"  # (sink) failed batch writes
CANDLES_TODAY = "candlewick_candles_today"  # (sink, coin, interval) closed candles of today (UTC) committed

# -- gap repair and backfill (labels: coin, interval) ----------------------------------------
GAPS_FOUND = "candlewick_gaps_found_total"
GAPS_REPAIRED = "candlewick_gaps_repaired_total"
PERMANENT_LOSSES = "candlewick_permanent_loss_candles_total"  # candles past the exchange's window
BACKFILL_CANDLES = "candlewick_backfill_candles_total"

# -- components (label: component) -----------------------------------------------------------
COMPONENT_UP = "candlewick_component_up"
COMPONENT_RESTARTS = "candlewick_component_restarts_total"

# -- control socket ---------------------------------------------------------------------------
CONTROL_CLIENTS = "candlewick_control_clients"  # () clients connected to the control socket
CONTROL_REQUESTS = "candlewick_control_requests_total"  # (method) requests answered
CONTROL_DROPPED = "candlewick_control_dropped_notifications_total"  # () pushes dropped for slow clients
WEB_REQUESTS = "candlewick_web_requests_total"  # (status) HTTP requests answered by the web API
WEB_ACTIVE = "candlewick_web_requests_active"  # () requests being served (live streams included)
WEB_STREAMS = "candlewick_web_streams"  # () live streams (/api/v1/stream) open

# -- event kinds as plain strings (listed once, in candlewick.events.EventKind) -------------------
EV_STATE: Final = EventKind.STATE.value
EV_CONNECTED: Final = EventKind.CONNECTED.value
EV_DISCONNECTED: Final = EventKind.DISCONNECTED.value
EV_GAP_FOUND: Final = EventKind.GAP_FOUND.value
EV_GAP_REPAIRED: Final = EventKind.GAP_REPAIRED.value
EV_GAP_LOST: Final = EventKind.GAP_LOST.value
EV_JOB: Final = EventKind.JOB.value
EV_SPOOL: Final = EventKind.SPOOL.value
EV_SHUTDOWN: Final = EventKind.SHUTDOWN.value
EV_GRID_MISMATCH: Final = EventKind.GRID_MISMATCH.value
EV_GRID_RESOLVED: Final = EventKind.GRID_RESOLVED.value
EV_CLOCK_STEP: Final = EventKind.CLOCK_STEP.value
