"""Every dashboard action by name in the command palette (ctrl+p)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message

from candlewick.tui.messages import (
    ConfirmCancel,
    ConfirmComponent,
    ConfirmRemoveMarket,
    OpenAddMarket,
    OpenBackfill,
    OpenHealth,
    OpenMarket,
)

if TYPE_CHECKING:
    from candlewick.tui.app import CandlewickApp

Command = tuple[str, Callable[[], object], str]


def dashboard_commands(app: CandlewickApp) -> list[Command]:
    """The commands that make sense for the current state (none that need a daemon when detached)."""
    commands: list[Command] = [("Keys", app.action_keys, "list every key")]
    state = app.state
    if state.link != "attached":
        return commands

    def ask(message: Message) -> Callable[[], object]:
        return partial(app.post_message, message)

    commands += [
        ("Health checks", ask(OpenHealth()), "why the daemon is degraded or failing"),
        ("Backfill…", ask(OpenBackfill()), "fetch history: coin, intervals, days or max"),
        ("Add market…", ask(OpenAddMarket()), "collect one more coin/interval live"),
    ]
    for c in state.components:
        commands.append((f"Restart {c.name}", ask(ConfirmComponent("restart", c.name)), f"{c.kind}, {c.state}"))
        action = "stop" if c.active else "start"
        commands.append((f"{action.title()} {c.name}", ask(ConfirmComponent(action, c.name)), f"{c.kind}, {c.state}"))
    for m in state.stats.markets if state.stats else ():
        label = f"{m.coin} {m.interval}"
        commands.append((f"Chart {label}", ask(OpenMarket(m.coin, m.interval)), "recent candles, live"))
        commands.append((f"Backfill {label}…", ask(OpenBackfill((m.coin, m.interval))), "fetch this market's history"))
        commands.append((f"Remove market {label}", ask(ConfirmRemoveMarket(m.coin, m.interval)), "stop collecting it"))
    for job in state.jobs:
        if not job.finished:
            what = f"{job.kind} {job.coin} {job.interval}"
            commands.append((f"Cancel job #{job.id}", ask(ConfirmCancel(job.id)), what))
    return commands


class DashboardCommands(Provider):
    """Restart/stop/start components, backfill, cancel jobs, add/remove markets, open charts."""

    def _commands(self) -> list[Command]:
        from candlewick.tui.app import CandlewickApp

        return dashboard_commands(self.app) if isinstance(self.app, CandlewickApp) else []

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
