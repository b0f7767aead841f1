"""Our own plugins run the same compliance suites a third party runs against theirs."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import thirdparty_site

__all__ = ["thirdparty_site", "ticker_installed"]


@pytest.fixture
def ticker_installed(thirdparty_site: Path) -> Iterator[Path]:
    """The candlewick-ticker distribution on sys.path for one test, so its entry point is found in this process.

    Only for the test: other tests (the sample config's, say) must see the built-in plugins alone.
    """
    sys.path.insert(0, str(thirdparty_site))
    try:
        yield thirdparty_site
    finally:
        sys.path.remove(str(thirdparty_site))
