"""``candlewick plugin new`` writes packages that install with pip and pass the compliance suite's structural checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from candlewick.cli import main
from candlewick.commands._scaffold import Blueprint

from .fresh import FreshVenv


def test_names_become_distribution_package_and_classes() -> None:
    b = Blueprint("my-store", "sink")
    assert (b.distribution, b.package, b.cls, b.options) == (
        "candlewick-my-store", "candlewick_my_store", "MyStoreSink", "MyStoreOptions",
    )  # fmt: skip
    for bad in ("Kraken", "9lives", "a_b", "a--b", "-a", ""):
        with pytest.raises(ValueError, match="lowercase letters, digits and single dashes"):
            Blueprint(bad, "source")


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No action, a bad name, a non-empty folder: each says what is wrong."""
    assert main(["plugin"]) == 2
    assert main(["plugin", "new", "Bad", "--kind", "sink", "--dir", str(tmp_path / "x")]) == 2
    assert "plugin name 'Bad'" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert main(["plugin", "new", "ok", "--kind", "sink", "--dir", str(tmp_path / "full")]) == 1
    assert "exists and is not empty" in capsys.readouterr().err


def test_new_packages_type_check_install_and_pass_the_suite(tmp_path: Path) -> None:
    """Both kinds: mypy --strict is clean; pip installs them into a fresh venv; their tests pass there."""
    projects = {kind: tmp_path / f"{kind}-plugin" for kind in ("source", "sink")}
    for kind, where in projects.items():
        assert main(["plugin", "new", f"demo-{kind}", "--kind", kind, "--dir", str(where)]) == 0
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "mypy"),
         *(str(p / f"candlewick_demo_{k}") for k, p in projects.items())],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    venv = FreshVenv(tmp_path / "venv")
    for where in projects.values():
        installed = venv.pip_install(where)
        assert installed.returncode == 0, installed.stderr
        tested = venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=where)
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert " passed" in tested.stdout
        assert "failed" not in tested.stdout
    listed = venv.run("-m", "candlewick", "plugins")
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert rows["demo-source"][1:4] == ["source", "0.1.0", "candlewick-demo-source"]
    assert rows["demo-sink"][1:4] == ["sink", "0.1.0", "candlewick-demo-sink"]
