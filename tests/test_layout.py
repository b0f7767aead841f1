"""The package layout: one import root mapped onto the fixed folders, public names exported."""

from __future__ import annotations

import importlib
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"candlewick": ROOT / "supervisor", "candlewick.plugins": ROOT / "plugins", "candlewick.tui": ROOT / "tui"}


def _packages_on_disk() -> set[str]:
    found: set[str] = set()
    for root_name, folder in FOLDERS.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder)
            if "__snapshots__" in rel.parts:
                continue
            name = ".".join((root_name, *rel.parts)) if rel.parts else root_name
            if name.startswith("candlewick.plugins") and root_name == "candlewick" and rel.parts[:1] == ("plugins",):
                continue
            found.add(name)
    return found


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """pyproject lists each package explicitly (package-dir mapping); none is forgotten."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    assert _packages_on_disk() <= listed
    assert config["tool"]["setuptools"]["package-dir"] == {
        "candlewick": "supervisor",
        "candlewick.plugins": "plugins",
        "candlewick.tui": "tui",
    }


def test_no_top_level_supervisor_or_plugins_import() -> None:
    """`supervisor` belongs to supervisord on PyPI; we only ever import `candlewick`."""
    import candlewick.cli  # noqa: F401

    assert "supervisor" not in sys.modules
    assert "plugins" not in sys.modules


def test_public_modules_export_sorted_names() -> None:
    """Modules with a public face re-export a sorted __all__ whose names exist."""
    for name in ("candlewick", "candlewick.plugin"):
        module = importlib.import_module(name)
        exported = module.__all__
        assert list(exported) == sorted(exported), name
        for attr in exported:
            assert hasattr(module, attr), f"{name}.{attr}"
