"""Compliance suites: the checks every candlewick source, sink and buffer must pass.

Our own plugins pass these same suites in our CI; a third-party plugin runs them against
itself with a few lines of pytest (see each suite's docstring, and ``candlewick plugin new``,
which writes a package whose tests already run them)::

    from candlewick.testing.compliance import SinkSuite

    class TestMySink(SinkSuite):
        plugin = "mysink"

        @pytest.fixture
        def sink_options(self, tmp_path):
            return {"path": str(tmp_path / "candles.db")}

The suites are base classes to subclass, with fixtures the author overrides (the plugin's
options, the feed that drives a source's input, the outage that takes a store away). A class
reads as a declaration of the plugin under test, the author's fixtures compose with their own,
and pytest's ``-k``, ``-x`` and reporting work unchanged; importing this package needs pytest
and anyio's pytest plugin, which ``candlewick.testing`` alone never imports.
"""

from __future__ import annotations

from candlewick.testing.compliance._harness import build_component, load_spec
from candlewick.testing.compliance._sinks import StoreOutage, sample
from candlewick.testing.compliance._sources import SourceFeed
from candlewick.testing.compliance.buffer import CHECKS as BUFFER_CHECKS
from candlewick.testing.compliance.buffer import BufferSuite, RecordingSink
from candlewick.testing.compliance.sink import CHECKS as SINK_CHECKS
from candlewick.testing.compliance.sink import SinkStructure, SinkSuite
from candlewick.testing.compliance.source import CHECKS as SOURCE_CHECKS
from candlewick.testing.compliance.source import SourceStructure, SourceSuite

__all__ = [
    "BUFFER_CHECKS",
    "SINK_CHECKS",
    "SOURCE_CHECKS",
    "BufferSuite",
    "RecordingSink",
    "SinkStructure",
    "SinkSuite",
    "SourceFeed",
    "SourceStructure",
    "SourceSuite",
    "StoreOutage",
    "build_component",
    "load_spec",
    "sample",
]
