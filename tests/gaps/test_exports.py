"""The public face of ``candlewick.gaps``."""

from __future__ import annotations

import candlewick.gaps


def test_all_is_sorted_and_complete() -> None:
    """``__all__`` is sorted (constants, classes, functions, as ruff sorts it) and every name exists."""
    names = candlewick.gaps.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for name in names:
        assert hasattr(candlewick.gaps, name), name
