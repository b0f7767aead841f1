"""A small Dockerfile parser and the structural lint the candlewick image must pass.

No Docker engine runs on the CI machines, so the image is never built there; this lint keeps
the file honest instead: base images pinned, a non-root user, a healthcheck, a stop signal the
daemon drains on, an exec-form entrypoint (a shell as PID 1 would swallow SIGTERM).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")
#: A tag naming a full release (``3.11.11-slim-bookworm``, ``2.17.2-pg16``), not a moving one.
_PINNED_TAG = re.compile(r"^v?\d+\.\d+\.\d+([.-].*)?$")
_ROOT_USERS = {"root", "0"}
#: Signals ``candlewick run`` turns into a graceful, draining shutdown.
DRAIN_SIGNALS = {"SIGTERM", "SIGINT", "15", "2"}


@dataclass(frozen=True)
class Instruction:
    """One instruction: upper-case keyword, its argument text (continuations joined), first line."""

    keyword: str
    args: str
    line: int


def parse(text: str) -> list[Instruction]:
    """Split a Dockerfile into instructions (comments dropped, ``\\`` continuations joined)."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and (not stripped or stripped.startswith("#")):
            continue  # comments and blank lines inside a continuation are skipped, as Docker does
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        joined = " ".join(part for part in pending if part)
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    if pending:
        raise ValueError(f"line {start}: instruction ends with a dangling line continuation")
    return out


def exec_form(args: str) -> list[str] | None:
    """The argv of a JSON (exec) form argument, or None for the shell form."""
    if not args.startswith("["):
        return None
    value = json.loads(args)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"not a JSON array of strings: {args}")
    return value


def argv(args: str) -> list[str]:
    """The words of a CMD/ENTRYPOINT/RUN argument, exec form or shell form."""
    words = exec_form(args)
    return words if words is not None else shlex.split(args)


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped by build stage (each starts with its FROM); global ARGs are dropped."""
    out: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            out.append([ins])
        elif out:
            out[-1].append(ins)
    return out


def global_args(instructions: list[Instruction]) -> dict[str, str]:
    """``ARG NAME=default`` declared before the first FROM (usable in FROM lines)."""
    found: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            found[name.strip()] = default.strip().strip('"')
    return found


def substitute(value: str, variables: dict[str, str]) -> str:
    """Expand ``$NAME`` and ``${NAME}`` from ``variables`` (unknown names stay as they are)."""

    def repl(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        return variables.get(name, match.group(0))

    return _VAR.sub(repl, value)


@dataclass(frozen=True)
class From:
    image: str
    stage_name: str | None
    line: int


def from_lines(instructions: list[Instruction]) -> list[From]:
    """Every FROM with its image reference resolved against the global ARGs."""
    variables = global_args(instructions)
    out = []
    for ins in instructions:
        if ins.keyword != "FROM":
            continue
        words = [w for w in ins.args.split() if not w.startswith("--")]
        image = substitute(words[0], variables)
        name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
        out.append(From(image, name, ins.line))
    return out


def is_pinned(image: str) -> bool:
    """A digest, or a tag naming a full X.Y.Z release (never ``latest`` or a bare ``3.11``)."""
    if "@sha256:" in image:
        return True
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # no tag at all (``python`` or ``host:5000/python``)
        return False
    return bool(_PINNED_TAG.match(tag))


def lint(text: str) -> list[str]:
    """Problems found in a Dockerfile, each naming its line; empty when the file passes."""
    try:
        instructions = parse(text)
    except ValueError as exc:
        return [str(exc)]
    problems: list[str] = []
    froms = from_lines(instructions)
    if not froms:
        return ["no FROM instruction"]
    names: set[str] = set()
    for f in froms:
        if f.image not in names and not is_pinned(f.image):
            problems.append(f"line {f.line}: base image {f.image!r} is not pinned to a release tag or digest")
        if f.stage_name:
            names.add(f.stage_name)
    if len(froms) < 2:
        problems.append("single-stage build: build the venv in one stage and copy it into a clean runtime stage")
    final = stages(instructions)[-1]
    problems += _lint_final_stage(final)
    for ins in instructions:
        if ins.keyword == "ADD":
            problems.append(f"line {ins.line}: ADD fetches URLs and unpacks archives implicitly; use COPY")
        try:
            if ins.keyword in {"CMD", "ENTRYPOINT", "RUN", "SHELL", "VOLUME"}:
                exec_form(ins.args)
        except (ValueError, json.JSONDecodeError) as exc:
            problems.append(f"line {ins.line}: {ins.keyword}: {exc}")
    return problems


def _last(stage: list[Instruction], keyword: str) -> Instruction | None:
    found = [ins for ins in stage if ins.keyword == keyword]
    return found[-1] if found else None


def _lint_final_stage(stage: list[Instruction]) -> list[str]:
    problems: list[str] = []
    user = _last(stage, "USER")
    if user is None:
        problems.append("the runtime stage has no USER: the daemon would run as root")
    elif user.args.split(":")[0] in _ROOT_USERS:
        problems.append(f"line {user.line}: USER {user.args} runs the daemon as root")
    health = _last(stage, "HEALTHCHECK")
    if health is None:
        problems.append("the runtime stage has no HEALTHCHECK")
    elif health.args.upper() == "NONE":
        problems.append(f"line {health.line}: HEALTHCHECK NONE disables the healthcheck")
    elif " CMD " not in f" {health.args} ":
        problems.append(f"line {health.line}: HEALTHCHECK has no CMD")
    stop = _last(stage, "STOPSIGNAL")
    if stop is None:
        problems.append("the runtime stage has no STOPSIGNAL")
    elif stop.args.upper() not in DRAIN_SIGNALS:
        problems.append(f"line {stop.line}: STOPSIGNAL {stop.args} is not one the daemon drains on (SIGTERM)")
    entry = _last(stage, "ENTRYPOINT")
    if entry is None:
        problems.append("the runtime stage has no ENTRYPOINT")
    else:
        try:
            if exec_form(entry.args) is None:
                problems.append(f"line {entry.line}: ENTRYPOINT in shell form makes /bin/sh PID 1 (SIGTERM lost)")
        except (ValueError, json.JSONDecodeError):
            pass  # reported by the JSON check above
    if _last(stage, "VOLUME") is None:
        problems.append("the runtime stage declares no VOLUME for the data and socket directories")
    return problems
