"""A throwaway database on the machine's PostgreSQL, and throwaway clusters started with pg_ctl.

Where TimescaleDB is installed for the machine's PostgreSQL 15, :func:`timescale_cluster` is a
cluster of the suite's own that preloads it; where it is not, the tests that need it are skipped
with one reason saying what is missing and how to build it.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from candlewick.plugin import Sink
from candlewick.plugins.timescaledb.config import TimescaleConfig
from candlewick.plugins.timescaledb.sink import TimescaleSink

from ..contract import BumpSchema, NewSink, running
from ..helpers import context

SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def anyio_backend() -> str:
    """asyncpg runs on asyncio only."""
    return "asyncio"


def psql(sql: str, *, database: str = "postgres", port: int = 5432) -> str:
    """Run one statement with psql as the postgres user (trust auth); returns its output."""
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1",
         "-c", sql],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of its own for this test session, dropped at the end."""
    name = f"candlewick_test_{secrets.token_hex(4)}"
    psql(f"CREATE DATABASE {name}")
    try:
        yield name
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_dsn(pg_database: str) -> str:
    """The session database, emptied for this test."""
    psql("DROP TABLE IF EXISTS candles, schema_migrations", database=pg_database)
    return f"{SERVER}/{pg_database}"


def timescale_sink(dsn: str, **options: object) -> TimescaleSink:
    config = TimescaleConfig(dsn=dsn, reconnect_max=0.5, connect_timeout=2, **options)  # type: ignore[arg-type]
    return TimescaleSink(context("timescaledb", config))


@pytest.fixture
def new_sink(pg_dsn: str) -> NewSink:
    def build() -> Sink:
        return timescale_sink(pg_dsn)

    return build


@pytest.fixture
def bump_schema(pg_database: str) -> BumpSchema:
    async def bump(version: int) -> None:
        psql(f"INSERT INTO schema_migrations (version, description) VALUES ({version}, 'from the future')",
             database=pg_database)  # fmt: skip

    return bump


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL cluster of our own (initdb + pg_ctl as the postgres user) on a free port."""

    def __init__(self, password: str | None = None, settings: dict[str, str] | None = None) -> None:
        #: Server settings given on the command line (``-c name=value``).
        self.settings = settings or {}
        self.base = Path(tempfile.mkdtemp(prefix="candlewick-pg-"))
        shutil.chown(self.base, "postgres", "postgres")
        self.data = self.base / "data"
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        auth = ["-A", "trust"]
        if password is not None:  # password authentication (scram-sha-256) instead of trust
            pwfile = self.base / "pw"
            pwfile.write_text(password + "\n")
            shutil.chown(pwfile, "postgres", "postgres")
            auth = ["-A", "scram-sha-256", f"--pwfile={pwfile}"]
        self._pg("initdb", "-D", str(self.data), *auth, "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")

    def _pg(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / tool), *args],
            check=False, capture_output=True, text=True, timeout=120, cwd=self.base,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += "".join(f" -c {name}={value}" for name, value in self.settings.items())
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-w", "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


def _cluster(password: str | None = None, settings: dict[str, str] | None = None) -> Iterator[Cluster]:
    if os.geteuid() != 0:
        pytest.fail("throwaway clusters are started as the postgres user via runuser: run the tests as root")
    c = Cluster(password, settings)
    try:
        c.start()
        yield c
    finally:
        c.remove()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A running throwaway cluster (trust auth), removed after the test."""
    yield from _cluster()


#: The password of :func:`password_cluster`'s postgres user.
CLUSTER_PASSWORD = "s3cret-candles"


@pytest.fixture
def password_cluster() -> Iterator[Cluster]:
    """A running throwaway cluster that demands a password (scram-sha-256)."""
    yield from _cluster(CLUSTER_PASSWORD)


# -- TimescaleDB -------------------------------------------------------------------------------

#: Settings of a cluster that preloads TimescaleDB. No telemetry (no network but loopback) and no
#: background workers: policies run when a test calls ``run_job``, never behind its back.
PRELOAD_TIMESCALEDB = {
    "shared_preload_libraries": "timescaledb",
    "timescaledb.telemetry_level": "off",
    "timescaledb.max_background_workers": "0",
}


def timescaledb_missing() -> list[Path]:
    """The files of a TimescaleDB installation that PG_BIN's PostgreSQL lacks (none: installed)."""
    pg_config = PG_BIN / "pg_config"
    if not pg_config.exists():
        return [pg_config]
    dirs = subprocess.run(
        [str(pg_config), "--sharedir", "--pkglibdir"], check=True, capture_output=True, text=True
    ).stdout.split()
    share, lib = Path(dirs[0]), Path(dirs[1])
    return [f for f in (share / "extension" / "timescaledb.control", lib / "timescaledb.so") if not f.exists()]


def require_timescaledb(*, module: bool = False) -> None:
    """Skip (the test, or with ``module`` the calling test module) unless TimescaleDB is installed."""
    missing = timescaledb_missing()
    if missing:
        pytest.skip(
            allow_module_level=module,
            reason=f"TimescaleDB is not installed for PostgreSQL 15 (no {', '.join(map(str, missing))}); Debian has "
            "no package: build it from source against PostgreSQL 15 as README.md says under "
            "'Development > TimescaleDB tests', then the suite starts its own cluster that preloads it",
        )


def timescale_offer(port: int = 5432) -> str:
    """What a server offers of TimescaleDB: ``absent``, ``installed`` (not preloaded) or ``preloaded``."""
    if psql("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'", port=port) != "1":
        return "absent"
    preloaded = psql(
        r"SELECT 'timescaledb' = ANY(regexp_split_to_array(current_setting('shared_preload_libraries'), '\s*,\s*'))",
        port=port,
    )
    return "preloaded" if preloaded == "t" else "installed"


@pytest.fixture
def unloaded_timescale_cluster() -> Iterator[Cluster]:
    """A throwaway cluster where TimescaleDB is installed but not in shared_preload_libraries."""
    require_timescaledb()
    yield from _cluster()


@pytest.fixture(scope="session")
def timescale_cluster() -> Iterator[Cluster]:
    """A throwaway cluster, started once per session, that preloads TimescaleDB."""
    require_timescaledb()
    yield from _cluster(settings=PRELOAD_TIMESCALEDB)


@pytest.fixture
def tsdb_dsn(timescale_cluster: Cluster) -> Iterator[str]:
    """A new database of this test's own on the TimescaleDB cluster, dropped afterwards."""
    name = f"candlewick_tsdb_{secrets.token_hex(4)}"
    psql(f"CREATE DATABASE {name}", port=timescale_cluster.port)
    try:
        yield f"postgresql://postgres@127.0.0.1:{timescale_cluster.port}/{name}"
    finally:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", port=timescale_cluster.port)


#: What the sink says, once per sink, for each thing a server can offer of TimescaleDB.
SAID = {
    "absent": (logging.INFO, "the timescaledb extension is not installed on"),
    "installed": (logging.WARNING, "but not in shared_preload_libraries; candles go into a plain PostgreSQL table"),
    "preloaded": (logging.INFO, "is a TimescaleDB hypertable (chunks of 30 days; compression after off;"),
}


async def says_once(dsn: str, offer: str, caplog: pytest.LogCaptureFixture) -> None:
    """A sink started twice (a reconnect) says what the server offers once, and nothing else."""
    caplog.set_level(logging.INFO)
    sink = timescale_sink(dsn)
    async with running(sink):
        pass
    async with running(sink):
        pass
    said = [(r.levelno, text) for r in caplog.records for _, text in SAID.values() if text in r.getMessage()]
    assert said == [SAID[offer]]
    assert sink.describe()["hypertable"] is (offer == "preloaded")
