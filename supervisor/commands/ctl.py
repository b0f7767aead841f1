"""``candlewick ctl``: call the running daemon over its control socket.

``candlewick ctl [--socket PATH] [--json] METHOD [key=value ...]`` calls any method; values
are JSON when they parse as JSON (``limit=5``, ``days="max"``), else strings. Friendly forms:
``ctl status`` (a table), ``ctl health``, ``ctl restart|stop|start NAME``.

Exit codes: 0 ok, 1 the daemon answered with an error (or ``health`` is ``failing``),
2 bad usage, 3 daemon unreachable.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from candlewick.commands._common import EXIT_FAILURE, EXIT_OK, EXIT_UNREACHABLE, EXIT_USAGE

#: Seconds to wait for an answer (``component.stop`` may wait for a component to finish).
DEFAULT_TIMEOUT = 30.0
COMPONENT_VERBS = ("restart", "stop", "start")


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ctl",
        help="call the running daemon (status, health, restart NAME, any control method)",
        description="Call a control method of the running daemon. Friendly forms: status, health, "
        "restart NAME, stop NAME, start NAME. Other methods take key=value parameters.",
        epilog="exit codes: 0 ok, 1 error answer (or health failing), 2 usage, 3 daemon unreachable",
    )
    p.add_argument("--socket", metavar="PATH", help="control socket (default: [control] socket of the config)")
    p.add_argument("--json", action="store_true", help="print the raw JSON result")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for the answer")
    p.add_argument("method", metavar="METHOD", help="status, health, restart NAME, or a method such as stats")
    p.add_argument("params", metavar="key=value", nargs="*", help="method parameters")
    p.set_defaults(handler=main, rest_into="params")


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["limit=5", "coin=BTC"]`` -> ``{"limit": 5, "coin": "BTC"}``; raises ``ValueError``."""
    import json

    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{item!r} is not key=value")
        try:
            params[key] = json.loads(raw)
        except json.JSONDecodeError:
            params[key] = raw
    return params


def request_for(method: str, items: list[str]) -> tuple[str, dict[str, Any]]:
    """The method and params a command line means (friendly forms expanded)."""
    if method in COMPONENT_VERBS:
        if len(items) != 1 or "=" in items[0]:
            raise ValueError(f"usage: candlewick ctl {method} NAME")
        return f"component.{method}", {"name": items[0]}
    return method, parse_params(items)


def main(args: argparse.Namespace) -> int:
    import sys

    import anyio

    from candlewick.commands._common import report
    from candlewick.control.protocol import ERROR_NAMES, RpcError
    from candlewick.errors import CandlewickError, DaemonUnreachable

    try:
        method, params = request_for(args.method, list(args.params))
    except ValueError as exc:
        print(f"candlewick ctl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        socket = Path(args.socket) if args.socket else _configured_socket(args)
    except CandlewickError as err:
        report(err)
        return EXIT_USAGE

    async def call() -> Any:
        from candlewick.control.client import ControlClient

        async with ControlClient.connect(socket, client_name="candlewick-ctl") as client:
            return await client.call(method, params, timeout=args.timeout)

    try:
        result = anyio.run(call)
    except DaemonUnreachable as err:
        report(err)
        return EXIT_UNREACHABLE
    except RpcError as err:
        name = ERROR_NAMES.get(err.code, "error")
        print(f"candlewick: {method} failed: {err} [{name} {err.code}]", file=sys.stderr)
        return EXIT_FAILURE
    except CandlewickError as err:
        report(err)
        return EXIT_FAILURE
    print(render(method, result, as_json=args.json))
    if method == "health" and isinstance(result, dict) and result.get("status") == "failing":
        return EXIT_FAILURE
    return EXIT_OK


def _configured_socket(args: argparse.Namespace) -> Path:
    from candlewick.config import load_settings

    return load_settings(Path(args.config) if args.config else None).control.socket_path()


# -- rendering -------------------------------------------------------------------------------


def render(method: str, result: Any, *, as_json: bool = False) -> str:
    """What ``ctl`` prints for a result."""
    import json

    if not as_json and isinstance(result, dict):
        if method == "status":
            return render_status(result)
        if method == "health":
            return render_health(result)
    return json.dumps(result, indent=2, ensure_ascii=False)


def duration(seconds: float | None) -> str:
    """``3d 04:12``, ``2h05m``, ``4m03s``, ``12s``; ``-`` for None."""
    if seconds is None:
        return "-"
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    if days:
        return f"{days}d {hours:02d}:{minutes:02d}"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{s:02d}s"
    return f"{s}s"


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def render_status(result: dict[str, Any]) -> str:
    from candlewick.control.schema import ComponentStatus, Status, lenient

    status = lenient(Status, result)
    d = status.daemon
    head = (
        f"candlewick {d.version or '?'}  pid {d.pid or '?'}  up {duration(d.uptime)}  "
        f"{d.health or '?'}  backend {d.backend or '?'}\n"
        f"config {d.config_path or 'built-in defaults'}  socket {d.socket or '-'}"
    )
    clock = status.clock
    if clock is not None and clock.detail:
        head += f"\nclock {clock.detail}" + ("" if clock.ok else ": fix NTP on this host")
    rows: list[tuple[str, ...]] = [("NAME", "KIND", "STATE", "RESTARTS", "UPTIME", "LAST ERROR")]
    for c in (lenient(ComponentStatus, raw) for raw in status.components):
        err = c.last_error
        rows.append((
            c.name, c.kind, c.state, str(c.restarts),
            duration(c.uptime), f"{err.type}: {err.message}" if err else "-",
        ))  # fmt: skip
    return head + "\n\n" + table(rows)


def render_health(result: dict[str, Any]) -> str:
    from candlewick.control.schema import Health, lenient

    health = lenient(Health, result)
    rows: list[tuple[str, ...]] = [(" ok" if c.ok else "BAD", c.name, c.detail) for c in health.checks]
    body = table(rows) if rows else ""
    return f"{health.status or '?'}\n{body}".rstrip()
