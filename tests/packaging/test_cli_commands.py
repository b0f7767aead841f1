"""Every `candlewick ...` command the packaging runs exists in the real CLI with those arguments."""

from __future__ import annotations

import argparse
import re
from typing import Any

import pytest

from tests.packaging import dockerfile_lint as dl
from tests.packaging.commands import candlewick_argv, cli_error, simple_commands
from tests.packaging.conftest import COMPOSE, COMPOSE_CONFIG, DOCKERFILE, UNIT
from tests.packaging.unitfile import Unit

_EXEC_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost", "ExecReload", "ExecStop", "ExecStopPost")


def dockerfile_commands(dockerfile: list[dl.Instruction]) -> list[list[str]]:
    """ENTRYPOINT + CMD as the container runs them, and the HEALTHCHECK command."""
    final = dl.stages(dockerfile)[-1]
    entry = next(dl.argv(i.args) for i in reversed(final) if i.keyword == "ENTRYPOINT")
    cmd = next(dl.argv(i.args) for i in reversed(final) if i.keyword == "CMD")
    found = [entry + cmd]
    for ins in final:
        if ins.keyword == "HEALTHCHECK":
            _, _, script = ins.args.partition(" CMD ")
            found += simple_commands(script)
    return found


def compose_commands(compose: dict[str, Any]) -> list[list[str]]:
    """Healthcheck tests and command overrides of every compose service."""
    found: list[list[str]] = []
    for service in compose["services"].values():
        test = service.get("healthcheck", {}).get("test")
        if test and test[0] == "CMD-SHELL":
            found += simple_commands(" ".join(test[1:]))
        elif test and test[0] == "CMD":
            found.append(list(test[1:]))
        command = service.get("command")
        if isinstance(command, list):  # our image's command is arguments to ENTRYPOINT ["candlewick"]
            found.append((["candlewick"] if "build" in service else []) + list(command))
    return found


def unit_commands(unit: Unit) -> list[list[str]]:
    """The Exec*= lines of the unit (systemd's ``-@:+!`` prefixes removed)."""
    return [value.lstrip("-@:+!").split() for key in _EXEC_KEYS for value in unit.values("Service", key)]


def _candlewick_only(commands: list[list[str]]) -> list[list[str]]:
    return [args for args in map(candlewick_argv, commands) if args is not None]


def test_dockerfile_runs_candlewick_run_and_ctl_health(dockerfile: list[dl.Instruction]) -> None:
    """The image runs `candlewick ... run` and checks health with `candlewick ctl health`."""
    calls = _candlewick_only(dockerfile_commands(dockerfile))
    assert [a[-1] for a in calls] == ["run", "health"]
    assert calls[1] == ["ctl", "health"]


def test_commands_parse_in_the_cli(dockerfile: list[dl.Instruction], compose: dict[str, Any], unit: Unit) -> None:
    """`candlewick.cli.build_parser()` accepts every invocation in the Dockerfile, compose file and unit."""
    calls = _candlewick_only(dockerfile_commands(dockerfile) + compose_commands(compose) + unit_commands(unit))
    assert len(calls) >= 4  # entrypoint, image healthcheck, compose healthcheck, ExecStart
    problems = {" ".join(args): err for args in calls if (err := cli_error(args)) is not None}
    assert problems == {}


def test_unit_runs_the_daemon(unit: Unit) -> None:
    """ExecStart is `candlewick run` from the venv the install notes create."""
    assert unit_commands(unit) == [["/opt/candlewick/bin/candlewick", "run"]]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("candlewick ctl health > /dev/null || exit 1", [["candlewick", "ctl", "health"], ["exit", "1"]]),
        ("a 2>&1 | b x && c;d", [["a"], ["b", "x"], ["c"], ["d"]]),
        ("x 'quoted arg' >> log", [["x", "quoted arg"]]),
    ],
)
def test_simple_commands(script: str, expected: list[list[str]]) -> None:
    """Shell lines split into simple commands at operators, with redirections dropped."""
    assert simple_commands(script) == expected


def test_cli_error_reports_unknown_commands() -> None:
    """The checker is not vacuous: an unknown subcommand or option is reported."""
    err = cli_error(["no-such-command"])
    assert err is not None
    assert "invalid choice" in err
    assert cli_error(["run", "--no-such-option"]) is not None
    assert cli_error([]) == "no subcommand given"


_BACKTICKED = re.compile(r"`([^`]+)`")
_SUBCOMMAND = re.compile(r"\bcandlewick (?=([a-z][\w-]*))")


def test_commands_named_in_comments_exist() -> None:
    """Subcommands the packaging files tell the operator to run (`candlewick tui`, ...) exist."""
    from candlewick.cli import build_parser

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    named = set()
    for path in (DOCKERFILE, COMPOSE, UNIT, COMPOSE_CONFIG):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.lstrip().startswith("#"):
                for snippet in _BACKTICKED.findall(line):
                    named |= {word for word in _SUBCOMMAND.findall(snippet) if word != "candlewick"}
    assert {"ctl", "tui"} <= named
    assert named <= set(subparsers.choices), named - set(subparsers.choices)
