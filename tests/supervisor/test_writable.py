"""The start-up check that the daemon can write its state, run as an unprivileged user.

The checks switch user, so they only run as root (the CI runs as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

UID = 10001

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch user")  # the CI runs as root


@pytest.fixture
def base() -> Iterator[Path]:
    """A directory every user can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="cw-writable-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def check_as_user(paths: list[Path], home: Path) -> str:
    """Run check_writable as uid 10001; '' when it passes, else the error's one line."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from candlewick.runtime.writable import NotWritable, check_writable\n"
        "try:\n"
        f"    check_writable([Path(p) for p in {[str(p) for p in paths]!r}], home=Path({str(home)!r}))\n"
        "except NotWritable as err:\n"
        "    print(err)\n"
    )
    argv = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", sys.executable, "-c", code]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def owned(path: Path) -> Path:
    path.mkdir()
    os.chown(path, UID, UID)
    return path


def test_a_root_owned_data_dir_names_the_chown(base: Path) -> None:
    data = base / "data"
    data.mkdir(mode=0o755)
    message = check_as_user([data], data)
    assert f"{data} is not writable by uid {UID} gid {UID}" in message
    assert "owned by uid 0 gid 0, mode 755" in message
    assert f"chown -R {UID}:{UID} {data}" in message


def test_what_the_daemon_does_not_write_is_left_alone(base: Path) -> None:
    """A config file put in the data directory, a volume's lost+found: none of the daemon's business."""
    data = owned(base / "data")
    (data / "candlewick.toml").write_text("")  # root's, 0644
    (data / "lost+found").mkdir(mode=0o700)
    assert check_as_user([data, data / "spool" / "sqlite-0123", data / "candles.db"], data) == ""


def test_a_file_left_by_a_run_as_root_is_named_with_the_data_dir_to_chown(base: Path) -> None:
    data = owned(base / "data")
    ledger = data / "backfill-sqlite-0123.sqlite"
    ledger.write_text("")  # root's, 0644: an earlier run as root
    message = check_as_user([data, ledger], data)
    assert f"{ledger} is not writable by uid {UID}" in message
    assert f"chown -R {UID}:{UID} {data}" in message


def test_a_missing_directory_under_a_foreign_one_says_how_to_create_it(base: Path) -> None:
    elsewhere = base / "srv"
    elsewhere.mkdir(mode=0o755)
    spool = elsewhere / "spool"
    message = check_as_user([spool], base / "data")
    assert f"{spool} does not exist and {elsewhere} is not writable by uid {UID}" in message
    assert f"mkdir -p {spool} && chown -R {UID}:{UID} {spool}" in message
