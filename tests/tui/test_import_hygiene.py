"""The dashboard imports the control client and nothing of the daemon runtime or plugins."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("candlewick.runtime", "candlewick.plugins", "candlewick.config", "asyncpg", "websockets", "httpx")


def _modules_after(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    modules: list[str] = json.loads(out)
    return modules


def test_tui_imports_no_daemon_code() -> None:
    """Importing the whole app pulls candlewick.control (client side) but no runtime or plugin."""
    modules = _modules_after("import candlewick.tui.app")
    assert "candlewick.control.client" in modules
    leaked = [m for m in modules if m.startswith(FORBIDDEN)]
    assert leaked == []


def test_cli_help_does_not_import_textual() -> None:
    """candlewick --help stays fast: the tui command imports textual only when it runs."""
    modules = _modules_after(
        "import contextlib, io\n"
        "from candlewick.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['tui', '--help'])"
    )
    assert "candlewick.commands.tui" in modules
    assert not [m for m in modules if m.startswith(("textual", "candlewick.tui"))]


def test_public_face() -> None:
    """candlewick.tui exports the app under a sorted __all__."""
    import candlewick.tui

    assert candlewick.tui.__all__ == sorted(candlewick.tui.__all__)
    assert all(hasattr(candlewick.tui, name) for name in candlewick.tui.__all__)
