"""``candlewick backfill``: fetch history once, with a progress bar per interval.

``candlewick backfill --coin BTC --intervals 1m 5m 1h --days 7|max``

When the daemon's control socket answers, the jobs are submitted there (``backfill.start``)
and followed until they finish; otherwise the command runs them itself against the
configured sink: the daemon's builder builds buffer, spool, sink and the source's backfill
companion (:attr:`~candlewick.plugin.ComponentSpec.companions`), without the live sources.
Either way only what the sink lacks is fetched.

Exit codes: 0 every job done, 1 a job failed or was cancelled (or the daemon refused),
2 bad usage or config (also: standalone while a running daemon holds the same data),
130 interrupted (what was fetched is kept; the command's jobs are cancelled).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from candlewick.commands._common import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    import anyio

    from candlewick.config import Settings
    from candlewick.plugin import SupportsBackfill
    from candlewick.pluginmanager import PluginHooks
    from candlewick.runtime.daemon import Daemon

#: Seconds between progress refreshes.
REFRESH = 0.5
#: Without a terminal, print progress at most this often (seconds).
PLAIN_EVERY = 10.0
BAR_WIDTH = 30
FINISHED = ("done", "failed", "cancelled")
#: Standalone runs fetch what was asked and stop: no checks of their own, nothing kept pending.
ONE_SHOT = {"detect": False, "keep_pending": False}
#: Seconds the standalone run waits for the backfill component to start.
START_TIMEOUT = 60.0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "backfill",
        help="fetch candle history once (through the running daemon, or standalone)",
        description="Fetch the history of one coin for some intervals, with a progress bar per interval. "
        "Uses the running daemon when its control socket answers, else runs standalone against the configured sink.",
        epilog="exit codes: 0 done, 1 a job failed, 2 usage or config error, "
        "130 interrupted (fetched candles are kept)",
    )
    p.add_argument("--coin", required=True, help="coin as the exchange names it (BTC, kPEPE, PURR/USDC, @107)")
    p.add_argument("--intervals", required=True, nargs="+", metavar="INTERVAL", help="e.g. 1m 5m 1h")
    p.add_argument(
        "--days", required=True, type=_days, metavar="N|max", help="days back, or max (all the exchange keeps)"
    )
    p.add_argument("--source", default="hyperliquid", help="source whose history to fetch (default: hyperliquid)")
    p.add_argument("--socket", metavar="PATH", help="control socket of the daemon (default: [control] socket)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--standalone", action="store_true", help="never use the daemon, run here")
    mode.add_argument("--via-daemon", action="store_true", help="fail (exit 1) instead of running standalone")
    p.set_defaults(handler=main)


def _days(value: str) -> int | None:
    if value.strip().lower() == "max":
        return None
    try:
        days = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither a number of days nor 'max'") from None
    if days <= 0:
        raise argparse.ArgumentTypeError(f"days must be positive, got {days}")
    return days


def main(args: argparse.Namespace) -> int:
    import sys

    import anyio

    from candlewick.commands._common import load, report
    from candlewick.errors import CandlewickError, ConfigError
    from candlewick.model import check_interval
    from candlewick.pluginmanager import build_plugin_manager

    try:
        intervals = list(dict.fromkeys(check_interval(i) for i in args.intervals))
    except ValueError as exc:
        print(f"candlewick backfill: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        settings = load(args)
    except CandlewickError as err:
        report(err)
        return EXIT_USAGE
    socket = Path(args.socket) if args.socket else settings.control.socket_path()
    progress = Progress(intervals, tty=sys.stdout.isatty())
    try:
        if not args.standalone:
            code = anyio.run(_via_daemon, socket, args.coin, intervals, args.days, progress, args.via_daemon)
            if code is not None:
                return code
        hooks = build_plugin_manager()
        return anyio.run(_standalone, settings, hooks, args.source, args.coin, intervals, args.days, progress, socket)
    except CandlewickError as err:
        report(err)
        return EXIT_USAGE if isinstance(err, ConfigError) else EXIT_FAILURE
    except KeyboardInterrupt:
        print("\ncandlewick backfill: interrupted; fetched candles are kept", file=sys.stderr)
        return EXIT_INTERRUPTED


# -- through the daemon ----------------------------------------------------------------------


async def _via_daemon(
    socket: Any, coin: str, intervals: list[str], days: int | None, progress: Progress, required: bool
) -> int | None:
    """Run the jobs in the daemon; ``None`` when no daemon answers (and ``required`` is false)."""
    import contextlib
    import signal
    import sys

    import anyio

    from candlewick.control.client import ControlClient
    from candlewick.control.protocol import INVALID_PARAMS, RpcError
    from candlewick.errors import DaemonUnreachable

    try:
        async with ControlClient.connect(socket, client_name="candlewick-backfill") as client:
            params = {"coin": coin, "intervals": intervals, "days": "max" if days is None else days}
            try:
                result = await client.call("backfill.start", params)
            except RpcError as err:
                print(f"candlewick backfill: the daemon refused: {err}", file=sys.stderr)
                return EXIT_USAGE if err.code == INVALID_PARAMS else EXIT_FAILURE
            ids = {str(j["id"]) for j in result.get("jobs", [])}
            progress.note(f"submitted to the daemon at {socket}: jobs {', '.join(sorted(ids, key=int))}")
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async with anyio.create_task_group() as tg:
                    interrupted = False

                    async def _watch_signals() -> None:
                        nonlocal interrupted
                        async for _ in signals:
                            interrupted = True
                            tg.cancel_scope.cancel()
                            return

                    tg.start_soon(_watch_signals)
                    while True:
                        listing = await client.call("backfill.list")
                        jobs = [j for j in listing.get("jobs", []) if str(j.get("id")) in ids]
                        progress.draw(jobs)
                        if len(jobs) == len(ids) and all(j.get("state") in FINISHED for j in jobs):
                            tg.cancel_scope.cancel()
                            break
                        await anyio.sleep(REFRESH)
            if interrupted:
                with anyio.move_on_after(5, shield=True):
                    for job_id in ids:
                        with contextlib.suppress(RpcError):
                            await client.call("backfill.cancel", {"id": job_id})
                progress.note("interrupted: the jobs were cancelled; fetched candles are kept")
                return EXIT_INTERRUPTED
            return progress.exit_code(jobs)
    except DaemonUnreachable as err:
        if required:
            print(f"candlewick backfill: {err}", file=sys.stderr)
            return EXIT_FAILURE
        progress.note("no daemon answers; running standalone against the configured sink")
        return None


# -- standalone ------------------------------------------------------------------------------


async def _standalone(
    settings: Settings,
    hooks: PluginHooks,
    source: str,
    coin: str,
    intervals: list[str],
    days: int | None,
    progress: Progress,
    socket: Path,
) -> int:
    """Build sink, buffer and the source's backfill companion with the daemon's builder; run the jobs.

    Refused before anything is fetched when a running daemon holds the same buffer state:
    its spool would stay locked and every fetched page would be lost for nothing.
    """
    import sys

    import anyio
    from anyio.abc import TaskStatus

    from candlewick.plugin import Buffer

    daemon, name, repair = _one_shot_daemon(settings, hooks, source)
    buffers = [c for c in daemon.components.values() if isinstance(c, Buffer)]
    holders = [held for buffer in buffers if (held := buffer.held_elsewhere()) is not None]
    if holders:
        daemon.close()
        print(
            f"candlewick backfill: a running candlewick uses this config's data ({'; '.join(holders)}): "
            f"submit the jobs to it with --via-daemon (add --socket PATH if its control socket is not {socket})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    async with anyio.create_task_group() as tg:
        stopped = anyio.Event()

        async def _run_daemon(*, task_status: TaskStatus[None]) -> None:
            try:
                await daemon.run(task_status=task_status)
            finally:
                stopped.set()

        await tg.start(_run_daemon)
        code = await _run_jobs(daemon, name, repair, stopped, coin, intervals, days, progress)
        await stopped.wait()
    if code == EXIT_INTERRUPTED:
        progress.note("interrupted; fetched candles were written to the sink")
    # A failed daemon fails the run, but a bad request stays a usage error.
    return code if daemon.exit_code == 0 or code == EXIT_USAGE else EXIT_FAILURE


def _one_shot_daemon(settings: Settings, hooks: PluginHooks, source: str) -> tuple[Daemon, str, SupportsBackfill]:
    """A daemon of sink, buffer and ``source``'s backfill companion, built as ``candlewick run`` builds."""
    from candlewick.errors import ConfigError
    from candlewick.plugin import SupportsBackfill
    from candlewick.runtime.daemon import Daemon

    if source not in settings.sources:
        raise ConfigError(
            f"no [sources.{source}] section in the config",
            hint=f"add [sources.{source}] (its rest_url and limits are used), or pass --source",
        )
    name = backfill_companion(hooks, source)
    daemon = Daemon(settings, hooks)
    # The live sources are left out; the companion still reads their options (REST URL, budget).
    daemon.build(only_sources={name: ONE_SHOT})
    repair = daemon.component(name)
    if not isinstance(repair, SupportsBackfill):
        daemon.close()
        raise ConfigError(f"sources.{name}: the plugin does not build a component that runs backfill jobs")
    return daemon, name, repair


async def _run_jobs(
    daemon: Daemon,
    name: str,
    repair: SupportsBackfill,
    stopped: anyio.Event,
    coin: str,
    intervals: list[str],
    days: int | None,
    progress: Progress,
) -> int:
    """Once ``repair`` runs, submit the jobs and draw them until they finish (or the daemon stops)."""
    import sys

    import anyio

    from candlewick.commands._common import report
    from candlewick.errors import CandlewickError

    child, ready = daemon.supervisor.child(name), False
    with anyio.move_on_after(START_TIMEOUT):
        ready = await child.wait_running()
    if not ready:
        error = f": {child.last_error.type}: {child.last_error.message}" if child.last_error else ""
        print(f"candlewick backfill: {name} did not start{error}", file=sys.stderr)
        daemon.request_shutdown(f"{name} did not start")
        return EXIT_FAILURE
    try:
        jobs = await repair.backfill_start(coin, intervals, days)
    except ValueError as exc:
        print(f"candlewick backfill: {exc}", file=sys.stderr)
        daemon.request_shutdown("bad request")
        return EXIT_USAGE
    except CandlewickError as err:
        report(err)
        daemon.request_shutdown("the exchange cannot be asked")
        return EXIT_FAILURE
    ids = {j["id"] for j in jobs}
    while not stopped.is_set():
        listing = [j for j in repair.backfill_list() if j["id"] in ids]
        progress.draw(listing)
        if all(j["state"] in FINISHED for j in listing):
            daemon.request_shutdown("backfill finished")
            return progress.exit_code(listing)
        with anyio.move_on_after(REFRESH):
            await stopped.wait()
    return EXIT_INTERRUPTED


def backfill_companion(hooks: PluginHooks, source: str) -> str:
    """The companion that runs ``source``'s backfill jobs: the first its spec declares."""
    from candlewick.errors import UnknownComponent

    spec = hooks.spec("source", source)
    if not spec.companions:
        raise UnknownComponent(
            f"source {source!r} cannot fetch history: its plugin declares no backfill companion",
            hint="pass --source with a source that has gap repair (such as hyperliquid)",
        )
    return spec.companions[0]


# -- progress --------------------------------------------------------------------------------


class Progress:
    """Progress bars per interval: redrawn in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, intervals: list[str], *, tty: bool) -> None:
        self.intervals = intervals
        self.tty = tty
        self._drawn = 0
        self._last_plain = 0.0
        self._last_states: dict[str, str] = {}

    def note(self, message: str) -> None:
        import sys

        self._drawn = 0
        print(message, file=sys.stderr, flush=True)

    def exit_code(self, jobs: list[dict[str, Any]]) -> int:
        failed = [j for j in jobs if j.get("state") != "done"]
        for job in failed:
            self.note(f"{job.get('interval')}: {job.get('state')}" + (f": {job['error']}" if job.get("error") else ""))
        return EXIT_FAILURE if failed else EXIT_OK

    def lines(self, jobs: list[dict[str, Any]]) -> list[str]:
        by_interval = {str(j.get("interval")): j for j in jobs}
        out = []
        for interval in self.intervals:
            job = by_interval.get(interval)
            out.append(render_line(interval, job))
        return out

    def draw(self, jobs: list[dict[str, Any]]) -> None:
        import sys
        import time

        lines = self.lines(jobs)
        if self.tty:
            up = f"\x1b[{self._drawn}F" if self._drawn else ""
            sys.stdout.write(up + "".join(f"\x1b[2K{line}\n" for line in lines))
            sys.stdout.flush()
            self._drawn = len(lines)
            return
        states = {str(j.get("interval")): str(j.get("state")) for j in jobs}
        now = time.monotonic()
        if states != self._last_states or now - self._last_plain >= PLAIN_EVERY:
            self._last_states = states
            self._last_plain = now
            print("\n".join(lines), flush=True)


def render_line(interval: str, job: dict[str, Any] | None) -> str:
    """``1m   [##########..........]  2500/5000  50%  eta 1m12s  running``."""
    if job is None:
        return f"{interval:<4} [{'.' * BAR_WIDTH}]  waiting"
    fetched = int(job.get("fetched") or 0)
    expected = int(job.get("expected") or 0)
    state = str(job.get("state"))
    ratio = 1.0 if state == "done" else (min(1.0, fetched / expected) if expected else 0.0)
    filled = round(ratio * BAR_WIDTH)
    eta = job.get("eta")
    eta_text = f"  eta {_duration(float(eta))}" if isinstance(eta, int | float) and state == "running" else ""
    return (
        f"{interval:<4} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}]  {fetched}/{expected}  {round(ratio * 100):3d}%"
        f"{eta_text}  {state}"
    )


def _duration(seconds: float) -> str:
    s = int(seconds)
    minutes, s = divmod(s, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{s:02d}s"
    return f"{s}s"
