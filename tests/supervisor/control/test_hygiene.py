"""What the client side imports, and the package's public names."""

from __future__ import annotations

import subprocess
import sys

import candlewick.control
from candlewick.control import protocol

FORBIDDEN = ("asyncpg", "websockets", "textual", "httpx", "candlewick.runtime", "candlewick.plugins", "pydantic")


def test_client_imports_nothing_of_the_daemon() -> None:
    """The TUI and ctl import the client: no database, websocket, textual or runtime module comes with it."""
    code = (
        "import sys, candlewick.control.client, candlewick.control; "
        f"print([m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} or m.startswith({FORBIDDEN!r})])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (the order ruff keeps ``__all__`` in)."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_public_names_are_sorted_and_exist() -> None:
    for module in (candlewick.control, protocol):
        assert module.__all__ == sorted(module.__all__, key=_isort_key)
        for name in module.__all__:
            assert hasattr(module, name), name
