"""Passwords for the TimescaleDB sink: the ``password`` key (also from ``*_FILE``), ``PGPASSWORD``, wrong ones."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from candlewick.config import load_settings, validate_section
from candlewick.errors import SinkUnavailable
from candlewick.plugins.timescaledb.config import TimescaleConfig

from ..contract import running
from ..helpers import candle
from .conftest import CLUSTER_PASSWORD, Cluster, timescale_sink

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_password_key_from_a_secret_file(password_cluster: Cluster, tmp_path: Path) -> None:
    """CANDLEWICK_SINK__TIMESCALEDB__PASSWORD_FILE reaches the sink as ``password`` and logs in."""
    secret = tmp_path / "pg_password"
    secret.write_text(CLUSTER_PASSWORD + "\n")
    settings = load_settings(
        None,
        environ={
            "CANDLEWICK_SINK__USE": "timescaledb",
            "CANDLEWICK_SINK__TIMESCALEDB__DSN": password_cluster.dsn,
            "CANDLEWICK_SINK__TIMESCALEDB__PASSWORD_FILE": str(secret),
            "XDG_CONFIG_HOME": str(tmp_path),
        },
    )
    config = validate_section(TimescaleConfig, settings.sink.plugin_options("timescaledb"), prefix="sink.timescaledb")
    assert config.password is not None
    assert "s3cret" not in repr(config)
    sink = timescale_sink(config.dsn, password=config.password)
    async with running(sink):
        await sink.write([candle(0, closed=True)])
        assert await sink.recent("BTC", "1m", 1) == [candle(0, closed=True)]


async def test_pgpassword_environment(password_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq's PGPASSWORD works as with any PostgreSQL client."""
    monkeypatch.setenv("PGPASSWORD", CLUSTER_PASSWORD)
    async with running(timescale_sink(password_cluster.dsn)) as sink:
        await sink.write([candle(0)])


async def test_wrong_password_keeps_retrying_without_crashing(password_cluster: Cluster) -> None:
    """A refused login is reported and retried with backoff; writes say SinkUnavailable meanwhile."""
    sink = timescale_sink(password_cluster.dsn, password="wrong")
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink.run)
        await anyio.sleep(1.0)
        with pytest.raises(SinkUnavailable):
            await sink.write([candle(0)])
        assert sink.describe()["connected"] is False
        tg.cancel_scope.cancel()
