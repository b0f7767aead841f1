"""``candlewick tui``: the Textual dashboard, attached to the daemon over the control socket.

The app owns the state and the link. Workers run the link (``link`` group: attach and
stream; ``status-poll``: what is not pushed; ``actions``: operator commands) and post
messages; handlers fold them into :class:`~candlewick.tui.state.DashboardState`; a timer
repaints the screens from the state at most ``refresh_rate`` times a second.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding

from candlewick.errors import ControlError
from candlewick.tui import state as st
from candlewick.tui.forms import BackfillRequest, MarketRequest
from candlewick.tui.link import DEFAULT_RETRY_INTERVAL, Connector, DaemonLink
from candlewick.tui.messages import (
    ActionDone,
    ActionFailed,
    CandlesLoaded,
    CandlesWanted,
    ConfirmCancel,
    ConfirmComponent,
    ConfirmRemoveMarket,
    EventsReceived,
    LinkDown,
    LinkUp,
    OpenAddMarket,
    OpenBackfill,
    OpenHealth,
    OpenMarket,
    StatsSample,
    StatusResult,
)
from candlewick.tui.palette import DashboardCommands
from candlewick.tui.screens.backfill_form import BackfillForm
from candlewick.tui.screens.base import ShowsState
from candlewick.tui.screens.confirm import ConfirmScreen
from candlewick.tui.screens.error_modal import ErrorModal
from candlewick.tui.screens.keys import KeysScreen
from candlewick.tui.screens.market_form import MarketForm
from candlewick.tui.screens.offline import OfflineScreen
from candlewick.tui.screens.overview import OverviewScreen

#: Repaints per second at most (gentle on a slow SSH link).
DEFAULT_REFRESH_RATE = 2.0
#: Seconds between polls of status, health and jobs (stats and events are pushed).
POLL_INTERVAL = 2.0

COMPONENT_QUESTIONS = {
    "restart": ("Restart {name}?", "It is cancelled and started again; its restart count goes up."),
    "stop": ("Stop {name}?", "It stays stopped until you start it again with s."),
    "start": ("Start {name}?", "It runs again under its restart policy."),
}


class CandlewickApp(App[None]):
    """The dashboard. ``live=False`` shows a given state without attaching (screenshots, docs)."""

    TITLE = "candlewick"
    CSS_PATH = Path(__file__).with_name("candlewick.tcss")  # absolute: subclasses live elsewhere
    COMMANDS = App.COMMANDS | {DashboardCommands}
    MODES: ClassVar[dict[str, Any]] = {"dashboard": OverviewScreen, "offline": OfflineScreen}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "keys", "Keys"),
    ]

    def __init__(
        self,
        socket_path: Path,
        *,
        connector: Connector | None = None,
        refresh_rate: float = DEFAULT_REFRESH_RATE,
        retry_interval: float = DEFAULT_RETRY_INTERVAL,
        state: st.DashboardState | None = None,
        live: bool = True,
    ) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.state = state or st.DashboardState(socket=str(socket_path))
        self.refresh_rate = refresh_rate
        self.retry_interval = retry_interval
        self.live = live
        self.link = DaemonLink(socket_path, self, connector=connector, retry_interval=retry_interval)
        self.paints = 0
        self._dirty = False
        self._complete = False
        self._last_sample = time.monotonic()

    def on_mount(self) -> None:
        self.switch_mode("offline" if self.state.link == "detached" else "dashboard")
        if self.live:
            self.attach()
            self.set_interval(1 / self.refresh_rate, self.paint)
            self.set_interval(POLL_INTERVAL, self.poll)
            self.set_interval(1.0, self.check_silence)

    # -- workers: they only delegate to the link ------------------------------------------------

    @work(exclusive=True, group="link", name="attach")
    async def attach(self) -> None:
        """Keep attached to the daemon (re-attaching by itself) and stream its notifications."""
        await self.link.run()

    @work(exclusive=True, group="status-poll", name="poll")
    async def poll(self) -> None:
        """Ask for status, health and jobs."""
        await self.link.poll()

    @work(group="actions", name="command")
    async def send(self, what: str, method: str, params: dict[str, Any]) -> None:
        """Send one operator command."""
        await self.link.command(what, method, params)

    @work(exclusive=True, group="candles", name="candles")
    async def load_candles(self, coin: str, interval: str, limit: int) -> None:
        """Fetch a market's recent candles and hand them to the screen on top as :class:`CandlesLoaded`."""
        params = {"coin": coin, "interval": interval, "limit": limit}
        try:
            result = await self.link.call("candles.recent", params)
        except ControlError as err:
            self.screen.post_message(CandlesLoaded(coin, interval, {}, error=f"candles.recent: {err}"))
            return
        self.screen.post_message(CandlesLoaded(coin, interval, result if isinstance(result, dict) else {}))

    # -- folding messages into the state -----------------------------------------------------

    def update_state(self, new: st.DashboardState) -> None:
        self.state = new
        self._dirty = True
        if not self._complete and new.components and new.stats is not None:
            self._complete = True  # the first full picture need not wait for the repaint timer
            self.paint()

    def paint(self) -> None:
        """Repaint the visible screens from the state, if it changed since the last paint."""
        if not self._dirty or not self.is_running:  # not while shutting down: widgets are going away
            return
        self._dirty = False
        self.paints += 1
        for screen in self.screen_stack:
            if isinstance(screen, ShowsState) and screen.ready:  # composed: its widgets exist
                screen.show(self.state)

    def on_link_up(self, message: LinkUp) -> None:
        self._last_sample = time.monotonic()
        self.update_state(st.attached(self.state))
        if self.current_mode != "dashboard":
            self.switch_mode("dashboard")
        self.paint()

    def on_link_down(self, message: LinkDown) -> None:
        self.update_state(st.detached(self.state, message.error))
        if self.current_mode != "offline":
            self.switch_mode("offline")
        self.paint()

    def on_status_result(self, message: StatusResult) -> None:
        new = self.state
        if message.status is not None:
            new = st.with_status(new, message.status)
        if message.health is not None:
            new = st.with_health(new, message.health)
        if message.jobs is not None:
            new = st.with_jobs(new, message.jobs)
        self.update_state(new)

    def on_stats_sample(self, message: StatsSample) -> None:
        self._last_sample = time.monotonic()
        self.update_state(st.with_stats(self.state, message.stats))

    def check_silence(self) -> None:
        """A daemon that stops pushing stats (hung, overloaded) is shown, not silently trusted."""
        new = st.with_silence(self.state, time.monotonic() - self._last_sample)
        if new is not self.state:
            self.update_state(new)

    def on_events_received(self, message: EventsReceived) -> None:
        self.update_state(st.with_events(self.state, message.events))

    def on_action_done(self, message: ActionDone) -> None:
        self.notify(f"{message.what}: done", timeout=4)
        self.poll()

    def on_action_failed(self, message: ActionFailed) -> None:
        self.push_screen(ErrorModal(message.title, f"{message.what} failed:\n{message.message}"))

    # -- what the keys, the screens and the command palette ask for --------------------------

    def action_keys(self) -> None:
        if not isinstance(self.screen, KeysScreen):
            self.push_screen(KeysScreen())

    def on_open_health(self, message: OpenHealth) -> None:
        from candlewick.tui.screens.health import HealthScreen

        self.push_screen(HealthScreen())

    def on_open_market(self, message: OpenMarket) -> None:
        from candlewick.tui.screens.market import MarketScreen  # plotext loads on first use

        self.push_screen(MarketScreen(message.coin, message.interval, live=self.live))

    def on_candles_wanted(self, message: CandlesWanted) -> None:
        self.load_candles(message.coin, message.interval, message.limit)

    def on_confirm_component(self, message: ConfirmComponent) -> None:
        action, name = message.action, message.name
        question, detail = COMPONENT_QUESTIONS[action]

        def answered(yes: bool | None) -> None:
            if yes:
                self.send(f"{action} {name}", f"component.{action}", {"name": name})

        self.push_screen(ConfirmScreen(question.format(name=name), detail), answered)

    def on_confirm_cancel(self, message: ConfirmCancel) -> None:
        job_id = message.job_id
        job = self.state.job(job_id)
        what = f"job #{job_id}" + (f" ({job.kind} {job.coin} {job.interval})" if job else "")

        def answered(yes: bool | None) -> None:
            if yes:
                self.send(f"cancel job #{job_id}", "backfill.cancel", {"id": job.ref if job else job_id})

        self.push_screen(ConfirmScreen(f"Cancel {what}?", "Candles it fetched so far are kept."), answered)

    def on_open_backfill(self, message: OpenBackfill) -> None:
        coin, interval = message.market or ("", "")

        def submitted(request: BackfillRequest | None) -> None:
            if request is not None:
                self.send(request.describe(), "backfill.start", request.params())

        self.push_screen(BackfillForm(coin, interval), submitted)

    def on_open_add_market(self, message: OpenAddMarket) -> None:
        coin = message.market[0] if message.market else ""

        def submitted(request: MarketRequest | None) -> None:
            if request is not None:
                self.send(f"add {request.coin} {request.interval}", "markets.add", request.params())

        self.push_screen(MarketForm(coin), submitted)

    def on_confirm_remove_market(self, message: ConfirmRemoveMarket) -> None:
        coin, interval = message.coin, message.interval

        def answered(yes: bool | None) -> None:
            if yes:
                request = MarketRequest(coin, interval)
                self.send(f"remove {coin} {interval}", "markets.remove", request.params())

        detail = "Live collection stops; stored candles stay. Add it again with a."
        self.push_screen(ConfirmScreen(f"Remove market {coin} {interval}?", detail), answered)

    def overview(self) -> OverviewScreen | None:
        """The overview screen of the dashboard mode, if it exists."""
        for screen in self.screen_stack:
            if isinstance(screen, OverviewScreen):
                return screen
        return None
