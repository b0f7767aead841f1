"""The process the sink suite kills: writes numbered batches and says each one it committed.

``python -m candlewick.testing.compliance._crash_child PLUGIN SINK OPTIONS_JSON BATCH`` prints
``n`` after batch ``n`` (``BATCH`` closed candles) is written, until it is killed.
"""

from __future__ import annotations

import json
import sys

import anyio

from candlewick.plugin import Sink
from candlewick.testing.compliance._harness import build_component, load_spec, running
from candlewick.testing.compliance._sinks import sample

#: Batches written before giving up (the parent kills the process long before).
MAX_BATCHES = 1000


async def main(plugin: str, name: str, options: str, size: int) -> None:
    sink = build_component(load_spec(plugin, "sink", name), json.loads(options))
    assert isinstance(sink, Sink)
    async with running(sink):
        for n in range(MAX_BATCHES):
            await sink.write([sample(n * size + i, trades=7, closed=True) for i in range(size)])
            print(n, flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
