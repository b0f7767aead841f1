"""The image installs the package from the build context: built from exactly what the
Dockerfile copies, the wheel must hold every module and data file, and the entry points.

Docker cannot run on the CI machines; this builds the same wheel `pip install .` builds in the
image's build stage (without dependencies or network) and reads it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator

import pytest

from tests.packaging import dockerfile_lint as dl
from tests.packaging.conftest import DOCKERFILE, ROOT

#: Checkout folder -> where setuptools' package-dir puts it inside the wheel.
PACKAGE_DIRS = {"supervisor": "candlewick", "plugins": "candlewick/plugins", "tui": "candlewick/tui"}


def _copied_sources() -> list[str]:
    build = dl.stages(dl.parse(DOCKERFILE.read_text(encoding="utf-8")))[0]
    return [
        src.rstrip("/")
        for ins in build
        if ins.keyword == "COPY" and "--from" not in ins.args
        for src in dl.argv(ins.args)[:-1]
    ]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    """The wheel built from a copy of only what the Dockerfile copies into its build stage."""
    context = tmp_path_factory.mktemp("context")
    for src in _copied_sources():
        path = ROOT / src
        if path.is_dir():
            shutil.copytree(path, context / src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            (context / src).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, context / src)
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(context)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = out.glob("candlewick-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def test_wheel_holds_every_module_and_data_file(wheel: zipfile.ZipFile) -> None:
    """Every file of supervisor/, plugins/ and tui/ (modules, .tcss, .sql, py.typed) is in the image."""
    names = set(wheel.namelist())
    expected = []
    for folder, target in PACKAGE_DIRS.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                expected.append(f"{target}/{path.relative_to(ROOT / folder).as_posix()}")
    assert len(expected) > 20
    missing = sorted(name for name in expected if name not in names)
    assert missing == [], "not installed in the image; list the package in pyproject.toml or add package-data"


def test_wheel_declares_the_console_script_and_plugins(wheel: zipfile.ZipFile) -> None:
    """`candlewick` (the ENTRYPOINT) and the built-in plugin entry points are in the metadata."""
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "candlewick = candlewick.cli:main" in text
    for plugin in ("hyperliquid", "sqlite", "timescaledb"):
        assert f"{plugin} = candlewick.plugins." in text
