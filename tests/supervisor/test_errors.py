"""The error hierarchy drawn in ``candlewick.errors`` is the one the code defines."""

from __future__ import annotations

import importlib
import pkgutil
import re

import candlewick
from candlewick import errors

#: One line of the drawn tree: its depth (in 4-column steps), the class, and ``[module]`` if any.
_LINE = re.compile(r"^    (?P<indent>(?:[│ ]   )*)(?:[├└]── )?(?P<name>[A-Z]\w+)(?:\s+\[(?P<module>[\w.]+)\])?")


def _drawn() -> dict[str, tuple[str | None, str]]:
    """Class name -> (parent name, defining module) as the docstring draws them."""
    doc = errors.__doc__ or ""
    tree = doc[doc.index("    CandlewickError") :]
    out: dict[str, tuple[str | None, str]] = {}
    stack: list[str] = []
    for line in tree.splitlines():
        m = _LINE.match(line)
        if not m:
            break
        depth = len(m["indent"]) // 4 + (1 if "──" in line else 0)
        del stack[depth:]
        out[m["name"]] = (stack[-1] if stack else None, m["module"] or "candlewick.errors")
        stack.append(m["name"])
    return out


def _defined() -> dict[str, tuple[str | None, str]]:
    """Class name -> (parent name, defining module) of every CandlewickError subclass in candlewick."""
    for info in pkgutil.walk_packages(candlewick.__path__, "candlewick."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    out: dict[str, tuple[str | None, str]] = {"CandlewickError": (None, "candlewick.errors")}
    todo = [errors.CandlewickError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("candlewick."):
                out[sub.__name__] = (cls.__name__, sub.__module__)
            todo.append(sub)
    return out


def test_docstring_tree_matches_the_classes() -> None:
    """Every error class is drawn under its real parent with its module, and nothing else is drawn."""
    drawn = _drawn()
    assert len(drawn) > 10
    assert drawn == _defined()
