"""The files ``candlewick plugin new`` writes: a pip-installable plugin package (pure, no I/O but :func:`write`).

A source or sink skeleton with its options model, typed for ``mypy --strict``, its entry point,
a README and a test module that runs the compliance suite's structural checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["Blueprint", "write"]

PluginKind = Literal["source", "sink"]
NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Blueprint:
    """What to call everything, from the plugin's name."""

    name: str
    kind: PluginKind

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise ValueError(
                f"plugin name {self.name!r}: use lowercase letters, digits and single dashes, starting with a letter"
            )

    @property
    def package(self) -> str:
        return "candlewick_" + self.name.replace("-", "_")

    @property
    def distribution(self) -> str:
        return f"candlewick-{self.name}"

    @property
    def cls(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-")) + self.kind.capitalize()

    @property
    def options(self) -> str:
        return self.cls.removesuffix(self.kind.capitalize()) + "Options"

    def files(self) -> dict[str, str]:
        """Relative path -> content."""
        module = SOURCE_MODULE if self.kind == "source" else SINK_MODULE
        tests = SOURCE_TESTS if self.kind == "source" else SINK_TESTS
        out = {
            "pyproject.toml": PYPROJECT,
            "README.md": README,
            f"{self.package}/__init__.py": '"""{distribution}: a candlewick {kind} plugin."""\n',
            f"{self.package}/py.typed": "",
            f"{self.package}/plugin.py": PLUGIN_MODULE,
            f"{self.package}/{self.kind}.py": module,
            "tests/__init__.py": "",
            "tests/conftest.py": CONFTEST,
            "tests/test_compliance.py": tests,
        }
        fields = {
            "name": self.name, "kind": self.kind, "package": self.package, "distribution": self.distribution,
            "cls": self.cls, "options": self.options, "section": "sources" if self.kind == "source" else "sink",
            "suite": "SourceSuite" if self.kind == "source" else "SinkSuite",
            "sink_use": "" if self.kind == "source" else f', and `[sink] use = "{self.name}"`',
        }  # fmt: skip
        return {path: text.format(**fields) for path, text in out.items()}


def write(blueprint: Blueprint, target: Path) -> list[Path]:
    """Write the package under ``target`` (which must not exist or be empty); returns the files."""
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} exists and is not empty")
    written = []
    for rel, text in blueprint.files().items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "{distribution}"
version = "0.1.0"
description = "A candlewick {kind} plugin."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["candlewick"]

[project.optional-dependencies]
test = ["candlewick[trio]", "pytest>=8"]

# candlewick finds the plugin through this entry point: `candlewick plugins` lists it.
[project.entry-points.candlewick]
{name} = "{package}.plugin"

[tool.setuptools]
packages = ["{package}"]

[tool.setuptools.package-data]
"{package}" = ["py.typed"]

[tool.pytest.ini_options]
addopts = "-ra"
"""

README = """\
# {distribution}

A [candlewick](https://pypi.org/project/candlewick/) {kind} plugin.

    pip install -e '.[test]'
    candlewick plugins            # lists {name!r}, kind {kind}
    pytest                        # candlewick's compliance suite

Enable it in `candlewick.toml` with a `[{section}.{name}]` table (see `{options}` in
`{package}/{kind}.py` for its keys){sink_use}.

`tests/test_compliance.py` runs the suite's structural checks (registration, options, start
and stop). Once the {kind} works, subclass the full suite instead
(`candlewick.testing.compliance.{suite}`, see its docstring) and declare, with the reason,
any check that cannot apply to it. `mypy --strict {package}` keeps the types honest.
"""

PLUGIN_MODULE = '''\
"""Registers the {name!r} {kind} with candlewick (entry point in pyproject.toml)."""

from __future__ import annotations

from candlewick.plugin import ComponentSpec, hookimpl

from {package}.{kind} import {options}, {cls}


@hookimpl
def candlewick_register_{kind}s() -> list[ComponentSpec]:
    return [ComponentSpec("{name}", "{kind}", {cls}, config_model={options}, description="TODO: one line")]
'''

SOURCE_MODULE = '''\
"""The {name!r} source: produces candles into ``ctx.candles``."""

from __future__ import annotations

from typing import Any

import anyio
from anyio.abc import TaskStatus
from pydantic import BaseModel, ConfigDict

from candlewick.model import Candle
from candlewick.plugin import ComponentContext, Source, SourceStats


class {options}(BaseModel):
    """``[sources.{name}]``."""

    model_config = ConfigDict(extra="forbid")
    coins: list[str] = ["BTC"]
    """Coins to follow."""
    interval: str = "1m"
    """Candle interval."""


class {cls}(Source):
    def __init__(self, ctx: ComponentContext[Any]) -> None:
        super().__init__(ctx)
        self.options: {options} = ctx.config
        self.stats = SourceStats(ctx.telemetry, ctx.name)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        # TODO: connect to your input here; call started() once connected.
        task_status.started()
        while True:
            for candle in await self.poll():
                await self.ctx.candles.send(candle)  # waits while the buffer is full
                self.stats.emitted(candle, now=self.ctx.clock.time())
            await self.ctx.clock.sleep(1.0)

    async def poll(self) -> list[Candle]:
        """TODO: read your input and return its candles (exact decimal strings, ms times)."""
        return []

    def markets(self) -> list[tuple[str, str]]:
        return [(coin, self.options.interval) for coin in self.options.coins]
'''

SINK_MODULE = '''\
"""The {name!r} sink: stores candles (a dict until you connect it to your store)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
from anyio.abc import TaskStatus
from pydantic import BaseModel, ConfigDict

from candlewick.errors import SinkUnavailable
from candlewick.model import Candle
from candlewick.plugin import ComponentContext, Sink


class {options}(BaseModel):
    """``[sink.{name}]``."""

    model_config = ConfigDict(extra="forbid")
    url: str = "memory://"
    """Where the store is (TODO)."""


class {cls}(Sink):
    def __init__(self, ctx: ComponentContext[Any]) -> None:
        super().__init__(ctx)
        self.options: {options} = ctx.config
        self._rows: dict[tuple[str, str, int], Candle] | None = None

    def target(self) -> str:
        return self.options.url

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        # TODO: connect to your store here; reconnect with backoff when it fails.
        self._rows = {{}}
        task_status.started()
        try:
            await anyio.sleep_forever()
        finally:
            self._rows = None

    async def write(self, batch: Sequence[Candle]) -> None:
        rows = self._rows
        if rows is None:
            raise SinkUnavailable(f"{{self.name}}: not connected", hint="the batch is kept and retried")
        for candle in batch:  # the one upsert rule: a closed row never becomes open again
            old = rows.get(candle.key)
            if old is None or candle.supersedes(old):
                rows[candle.key] = candle
'''

CONFTEST = '''\
from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Plugins run on both of candlewick's backends."""
    return str(request.param)
'''

SOURCE_TESTS = '''\
"""candlewick's source compliance suite against {name!r}."""

from __future__ import annotations

from typing import Any

import pytest

from candlewick.testing.compliance import SourceFeed, SourceStructure


class Feed(SourceFeed):
    """How the suite drives your source's input; see SourceFeed for what else it can do."""

    def options(self) -> dict[str, Any]:
        return {{"coins": ["BTC"]}}


class Test{cls}(SourceStructure):
    plugin = "{name}"

    @pytest.fixture
    def feed(self) -> Feed:
        return Feed()
'''

SINK_TESTS = '''\
"""candlewick's sink compliance suite against {name!r}."""

from __future__ import annotations

from typing import Any

import pytest

from candlewick.testing.compliance import SinkStructure


class Test{cls}(SinkStructure):
    plugin = "{name}"

    @pytest.fixture
    def sink_options(self) -> dict[str, Any]:
        return {{"url": "memory://"}}
'''
