"""Registers the ``timescaledb`` sink (``[sink] use = "timescaledb"``; asyncio backend only)."""

from __future__ import annotations

from typing import Any

from candlewick.plugin import ComponentContext, ComponentSpec, hookimpl
from candlewick.plugins.timescaledb.config import TimescaleConfig
from candlewick.runtime.policy import RestartPolicy


def _build(ctx: ComponentContext[Any]) -> Any:
    from candlewick.plugins.timescaledb.sink import TimescaleSink  # asyncpg only when used

    return TimescaleSink(ctx)


def _reader(config: TimescaleConfig) -> Any:
    from candlewick.plugins.timescaledb.reader import TimescaleReader  # asyncpg only when used

    return TimescaleReader(config)


@hookimpl
def candlewick_register_sinks() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="timescaledb",
            kind="sink",
            factory=_build,
            reader=_reader,
            config_model=TimescaleConfig,
            backends=frozenset({"asyncio"}),
            restart=RestartPolicy(critical=True),
            description="TimescaleDB hypertable, or plain PostgreSQL (asyncpg)",
        )
    ]
