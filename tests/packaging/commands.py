"""Find the ``candlewick ...`` invocations in packaging files and check them against the CLI."""

from __future__ import annotations

import contextlib
import io
import shlex
from pathlib import PurePosixPath

_SEPARATORS = {"||", "&&", ";", "|", "&", "(", ")"}
_REDIRECTIONS = {">", ">>", "<", ">&", "<&", "&>", ">|"}


def simple_commands(script: str) -> list[list[str]]:
    """The simple commands of a one-line shell script, redirections removed."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    skip_next = False
    for token in lexer:
        if skip_next:
            skip_next = False
        elif token in _SEPARATORS:
            commands.append([])
        elif token in _REDIRECTIONS:
            skip_next = True
            if commands[-1] and commands[-1][-1].isdigit():
                commands[-1].pop()  # the fd number of ``2>``
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def candlewick_argv(words: list[str]) -> list[str] | None:
    """The arguments after ``candlewick`` when ``words`` runs it (by name or full path)."""
    if words and PurePosixPath(words[0]).name == "candlewick":
        return words[1:]
    return None


def cli_error(args: list[str]) -> str | None:
    """Why ``candlewick <args>`` does not parse, or None when the real CLI accepts it."""
    from candlewick.cli import build_parser

    parser = build_parser()
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            ns = parser.parse_args(args)
    except SystemExit as exc:
        return f"exit {exc.code}: {stderr.getvalue().strip()}"
    if getattr(ns, "command", None) is None:
        return "no subcommand given"
    return None
