"""Reading server-sent events from an httpx streaming response, as a browser's EventSource does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import pytest

#: A client that stops reading an endless stream leaves httpx's and httpcore's chain of body
#: generators (aiter_lines -> aiter_text -> ... -> the connection's) to the garbage collector,
#: which on trio warns about each; that is httpx's code, and hanging up mid-stream is the point.
HANGUP_WARNINGS = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <async_generator object \w+\.(__aiter__|aiter_\w+|_receive_response_body) "
    r":pytest.PytestUnraisableExceptionWarning"
)


@dataclass
class SseEvent:
    event: str
    #: The ``id`` field; -1 for an event without one.
    id: int
    data: dict[str, Any]


async def read_events(reply: httpx.Response, count: int, *, timeout: float = 20.0) -> list[SseEvent]:
    """The next ``count`` events of ``reply`` (comments and the retry field skipped)."""
    events: list[SseEvent] = []
    fields: dict[str, str] = {}
    with anyio.fail_after(timeout):
        async for line in reply.aiter_lines():
            if line == "":
                if "data" in fields:
                    ident = int(fields.get("id", -1))
                    events.append(SseEvent(fields.get("event", "message"), ident, json.loads(fields["data"])))
                    if len(events) == count:
                        return events
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    raise AssertionError(f"the stream ended after {len(events)} of {count} events")
