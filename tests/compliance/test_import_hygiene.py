"""The daemon's imports of candlewick.testing (``candlewick simulate``) never pull in pytest."""

from __future__ import annotations

import subprocess
import sys


def test_candlewick_testing_does_not_import_pytest() -> None:
    code = (
        "import sys, candlewick.testing, candlewick.commands.simulate, candlewick.runtime.daemon; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
