"""The project's own checks run as tests: ruff, mypy --strict, import contracts, README commands."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert path, f"{name} is not installed: it is in the [test] extra"
    return path


def test_ruff_lint_and_format_clean() -> None:
    lint = subprocess.run(check=False, args=[_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    fmt = subprocess.run(
        check=False, args=[_tool("ruff"), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout


def test_mypy_strict_clean() -> None:
    result = subprocess.run(check=False, args=[_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_import_contracts() -> None:
    """The daemon never imports the TUI or textual; the TUI talks only through candlewick.control."""
    result = subprocess.run(check=False, args=[_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", setup)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    """README: one command collects, one runs the tests; .ci/run runs the latter verbatim."""
    commands = _readme_commands()
    assert len(commands) == 2
    collect, test = commands
    assert collect.endswith("candlewick run")
    assert test.endswith("pytest")
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()
