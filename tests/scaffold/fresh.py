"""A fresh virtual environment that sees this environment's packages (candlewick, pytest) but installs its own."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

__all__ = ["FreshVenv"]


class FreshVenv:
    """``python -m venv`` plus a ``.pth`` file adding this environment's site-packages after its own.

    Installs go into the fresh venv only, without build isolation or an index (offline-safe),
    as a plugin author's ``pip install -e .`` would in a venv that has candlewick already.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True)
        self.python = path / "bin" / "python"
        site = Path(self.run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
        outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        # addsitedir, not a plain path: the outer .pth files (candlewick's editable install) apply too
        lines = [f"import site; site.addsitedir({p!r})\n" for p in sorted(outer)]
        (site / "candlewick-outer.pth").write_text("".join(lines))

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )

    def pip_install(self, project: Path) -> subprocess.CompletedProcess[str]:
        """``pip install --no-build-isolation --no-deps --no-index project`` into this venv (pip from outside)."""
        return subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(self.python), "install", "-q", "--no-build-isolation",
             "--no-deps", "--no-index", str(project)],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
