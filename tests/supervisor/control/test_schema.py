"""The wire schema against the real payloads of a running daemon, and its tolerant reading."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from candlewick.control import schema
from candlewick.control.client import ControlClient
from candlewick.gaps.jobs import Job, JobKind
from candlewick.runtime import names
from tests.supervisor.control.conftest import Running

pytestmark = pytest.mark.anyio


def _round_trip(cls: type[schema.Wire], payload: Any) -> schema.Wire:
    """``payload`` decoded strictly as ``cls`` encodes back to the same keys and values."""
    decoded = msgspec.convert(payload, cls)
    assert msgspec.to_builtins(decoded) == payload
    return decoded


async def test_the_daemons_answers_are_the_schema(running: Running) -> None:
    """status, stats, health and events.recent decode as their structs and encode back unchanged."""
    running.daemon.telemetry.publish(names.EV_GAP_FOUND, "test", "BTC 1m: 1 hole", coin="BTC", interval="1m")
    async with ControlClient.connect(running.socket) as client:
        answers = {method: await client.call(method, {}) for method in ("status", "stats", "health", "events.recent")}
    status = _round_trip(schema.Status, answers["status"])
    assert isinstance(status, schema.Status)
    for raw in status.components:
        component = msgspec.convert(raw, schema.ComponentStatus)  # the fixed keys are all there
        assert set(schema.ComponentStatus.__struct_fields__) <= set(raw)
        assert component.name in running.daemon.supervisor.children
    stats = _round_trip(schema.Stats, answers["stats"])
    assert isinstance(stats, schema.Stats)
    assert stats.markets, "the test source follows markets"
    _round_trip(schema.Health, answers["health"])
    events = _round_trip(schema.Events, answers["events.recent"])
    assert isinstance(events, schema.Events)
    assert schema.EventKind.GAP_FOUND in {e.kind for e in events.events}


def test_a_job_is_the_schema() -> None:
    """The gap repair's job dict decodes as a Job and encodes back unchanged."""
    job = Job("7", JobKind.USER, "BTC", "1m", 0, 60_000, fetched=1, expected=2, error=None)
    _round_trip(schema.Job, job.to_dict(0.0))


def test_every_event_kind_the_daemon_names_is_listed_once() -> None:
    kinds = {value for name, value in vars(names).items() if name.startswith("EV_")}
    assert kinds == set(schema.EventKind)


def test_reading_is_tolerant() -> None:
    """Unknown keys are ignored, wrong types take defaults, broken list items are left out."""
    markets = [{"coin": "BTC", "lag": "slow", "frames": 3}, None]
    raw: dict[str, Any] = {"time": "x", "new_key": 1, "buffer": [], "markets": markets}
    stats = schema.lenient(schema.Stats, raw)
    assert stats.time == 0.0
    assert stats.buffer == schema.BufferStats()
    assert [(m.coin, m.lag, m.frames) for m in stats.markets] == [("BTC", None, 3)]
    assert raw["markets"][1] is None, "the caller's object is left as it was"
    assert schema.lenient(schema.Status, "nope") == schema.Status()
    assert schema.lenient(schema.Job, {"id": 3, "eta": None}).id == 3
