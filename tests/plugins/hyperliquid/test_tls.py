"""wss:// and https://, the production path, against the fake exchange serving TLS on loopback."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest

from candlewick.config import validate_section
from candlewick.errors import ConfigError
from candlewick.plugins.hyperliquid.config import HyperliquidConfig
from candlewick.plugins.hyperliquid.wsconn import ConnectionLost, connect
from candlewick.runtime import names
from candlewick.testing import FakeExchange

from .conftest import BUSY_COINS, FIXTURES, running_source

pytestmark = pytest.mark.anyio

#: A self-signed certificate for 127.0.0.1 (valid until 2126), made for these tests only.
CERT = FIXTURES / "tls-cert.pem"
KEY = FIXTURES / "tls-key.pem"


@pytest.fixture
async def tls_exchange() -> AsyncIterator[FakeExchange]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(CERT, KEY)
    async with FakeExchange(seed=2, push_interval=0.05, coins=BUSY_COINS, ssl_context=context) as ex:
        yield ex


async def test_source_runs_over_wss_and_https(tls_exchange: FakeExchange) -> None:
    """With ca_file naming the fake's authority, coins are checked over https and candles stream over wss."""
    assert tls_exchange.ws_url.startswith("wss://")
    assert tls_exchange.rest_url.startswith("https://")
    async with running_source(tls_exchange, ca_file=str(CERT), backfill_on_start="1h") as h:
        await h.wait_for(lambda: any(c.origin == "live" for c in h.candles))
        await h.wait_for(lambda: any(c.origin == "rest" for c in h.candles))
        assert tls_exchange.stats.rest_by_type["meta"] == 1
        assert h.metric(names.MALFORMED, source="hyperliquid") == 0


async def test_an_untrusted_certificate_is_refused(tls_exchange: FakeExchange) -> None:
    """Without the authority the handshake fails: no silent downgrade."""
    with pytest.raises((ssl.SSLError, ConnectionLost)):
        await connect(tls_exchange.ws_url, open_timeout=3)


def test_ca_file_must_exist() -> None:
    """A missing ca_file is a config error naming the key."""
    with pytest.raises(ConfigError, match=r"sources\.hyperliquid\.ca_file: '/nope.pem' is not a readable file"):
        validate_section(HyperliquidConfig, {"ca_file": "/nope.pem"}, prefix="sources.hyperliquid")
