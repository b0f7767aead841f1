"""The daemon's runtime: supervisor, restart policies, clocks, telemetry."""
