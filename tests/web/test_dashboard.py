"""The dashboard in a real headless Chromium: no off-host request, the chart drawn from the API, live updates."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser import browser, png_facts, require_chromium
from tests.web.conftest import TOKEN, WebRig, seeded
from tests.web.sse_client import HANGUP_WARNINGS

pytestmark = [pytest.mark.anyio, HANGUP_WARNINGS, pytest.mark.timeout(120)]

#: Screenshots of the last run are kept here too, to look at.
SHOTS = Path(__file__).resolve().parent.parent.parent / "build" / "screenshots"
READY = "() => document.body.dataset.state === 'ready' && Number(document.body.dataset.candles || 0) > 0"


@pytest.fixture
def anyio_backend() -> str:
    """playwright's async API runs on asyncio; the API itself is tested on both backends."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _chromium() -> None:
    require_chromium()


def _base(daemon: Any) -> str:
    return f"http://127.0.0.1:{daemon.components['web'].port}"


async def test_chart_draws_and_follows_the_stream(rig: WebRig, tmp_path: Path) -> None:
    """Every request stays on the host; the chart has the stored candles; SSE moves the last one."""
    truth = await seeded(rig, hours=3)
    async with rig.daemon(rig.settings()) as daemon, browser() as chromium:
        base = _base(daemon)
        page = await chromium.new_page(viewport={"width": 1280, "height": 900})
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        await page.goto(f"{base}/#BTC/1m")
        await page.wait_for_function(READY, timeout=20_000)
        body = await page.evaluate("({...document.body.dataset})")
        assert int(body["candles"]) >= len(truth)
        first_time, first_close = body["lastTime"], body["lastClose"]
        assert int(first_time) >= truth[-1].open_time
        canvases = await page.eval_on_selector_all("#chart canvas", "cs => cs.filter(c => c.width > 100).length")
        assert canvases >= 1
        await page.wait_for_function(
            "() => { const d = document.body.dataset; return Number(d.updates || 0) >= 3"
            f" && (d.lastTime !== '{first_time}' || d.lastClose !== '{first_close}'); }}",
            timeout=20_000,
        )
        assert await page.locator("#coverage .day").count() >= 1
        assert await page.locator("#components tbody tr").count() >= 4
        assert await page.text_content("#health") in ("healthy", "degraded")
        assert await page.locator("#market option").count() >= 2
        assert "TradingView" in (await page.text_content("footer") or "")
        shot = tmp_path / "dashboard.png"
        await page.screenshot(path=str(shot))
        off_host = [url for url in requests if not url.startswith(base) and not url.startswith("data:")]
        assert off_host == [], off_host
    width, height, colours = png_facts(shot)
    assert (width, height) == (1280, 900)
    assert colours > 20, "the screenshot is blank"
    _keep(shot)


async def test_reads_well_on_a_phone(rig: WebRig, tmp_path: Path) -> None:
    """At 390 px the page does not scroll sideways and the chart fills the width."""
    await seeded(rig, hours=1)
    async with rig.daemon(rig.settings()) as daemon, browser() as chromium:
        page = await chromium.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
        await page.goto(_base(daemon))
        await page.wait_for_function(READY, timeout=20_000)
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0
        chart = await page.locator("#chart").bounding_box()
        assert chart is not None
        assert chart["width"] >= 330
        shot = tmp_path / "dashboard-phone.png"
        await page.screenshot(path=str(shot), full_page=True)
    width, _, colours = png_facts(shot)
    assert width == 390 * 2
    assert colours > 20
    _keep(shot)


async def test_token_once_in_the_url_then_the_cookie(rig: WebRig) -> None:
    """With a token set, /?token=... lets the page in; its fetches and its EventSource ride the cookie."""
    await seeded(rig, hours=1)
    async with rig.daemon(rig.settings(web={"token": TOKEN})) as daemon, browser() as chromium:
        page = await chromium.new_page()
        refused = await page.goto(_base(daemon))
        assert refused is not None
        assert refused.status == 401
        await page.goto(f"{_base(daemon)}/?token={TOKEN}")
        assert page.url == f"{_base(daemon)}/", "redirected: the token is not left in the address bar"
        await page.wait_for_function(READY, timeout=20_000)
        await page.wait_for_function("() => document.body.dataset.stream === 'open'", timeout=20_000)


def _keep(shot: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SHOTS / shot.name)
