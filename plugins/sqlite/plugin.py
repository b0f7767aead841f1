"""Registers the ``sqlite`` sink: the embedded, zero-setup default (``[sink] use = "sqlite"``)."""

from __future__ import annotations

from typing import Any

from candlewick.plugin import ComponentContext, ComponentSpec, hookimpl
from candlewick.plugins.sqlite.config import SqliteConfig
from candlewick.plugins.sqlite.reader import SqliteReader
from candlewick.plugins.sqlite.sink import SqliteSink
from candlewick.runtime.policy import RestartPolicy


def _build(ctx: ComponentContext[Any]) -> SqliteSink:
    return SqliteSink(ctx)


def _reader(config: SqliteConfig) -> SqliteReader:
    return SqliteReader(config.resolved_path(), busy_timeout=config.busy_timeout)


@hookimpl
def candlewick_register_sinks() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="sqlite",
            kind="sink",
            factory=_build,
            reader=_reader,
            config_model=SqliteConfig,
            restart=RestartPolicy(critical=True),
            description="SQLite file in WAL mode (embedded default)",
        )
    ]
