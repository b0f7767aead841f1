"""Registers the ``sqlite`` sink: the embedded, zero-setup default (``[sink] use = "sqlite"``)."""

from __future__ import annotations

from typing import Any

from candlewick.plugin import ComponentContext, ComponentSpec, hookimpl
from candlewick.plugins.sqlite.config import SqliteConfig
from candlewick.plugins.sqlite.sink import SqliteSink
from candlewick.runtime.policy import RestartPolicy


def _build(ctx: ComponentContext[Any]) -> SqliteSink:
    return SqliteSink(ctx)


@hookimpl
def candlewick_register_sinks() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="sqlite",
            kind="sink",
            factory=_build,
            config_model=SqliteConfig,
            restart=RestartPolicy(critical=True),
            description="SQLite file in WAL mode (embedded default)",
        )
    ]
