"""The Dockerfile lint itself: it parses what Docker parses and catches each defect it claims to."""

from __future__ import annotations

import pytest

from tests.packaging import dockerfile_lint as dl

GOOD = """\
# syntax=docker/dockerfile:1
ARG BASE=python:3.11.11-slim-bookworm
FROM ${BASE} AS build
RUN python -m venv /opt/app \\
    # a comment inside a continuation
    && /opt/app/bin/pip install .
FROM $BASE
COPY --from=build /opt/app /opt/app
VOLUME ["/data"]
USER app:app
HEALTHCHECK --interval=30s CMD app ctl health || exit 1
STOPSIGNAL SIGTERM
ENTRYPOINT ["app"]
CMD ["run"]
"""


def test_good_file_passes() -> None:
    """A file with every required part yields no problem."""
    assert dl.lint(GOOD) == []


def test_parse_joins_continuations_and_skips_comments() -> None:
    """Continuation lines join into one instruction that keeps its first line number."""
    run = [ins for ins in dl.parse(GOOD) if ins.keyword == "RUN"]
    assert run == [dl.Instruction("RUN", "python -m venv /opt/app && /opt/app/bin/pip install .", 4)]


def test_from_resolves_global_args() -> None:
    """FROM ${ARG} is checked against the ARG's default, and stage names are kept."""
    froms = dl.from_lines(dl.parse(GOOD))
    assert [(f.image, f.stage_name) for f in froms] == [
        ("python:3.11.11-slim-bookworm", "build"),
        ("python:3.11.11-slim-bookworm", None),
    ]


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("python:3.11.11-slim-bookworm", True),
        ("timescale/timescaledb:2.17.2-pg16", True),
        ("python@sha256:" + "a" * 64, True),
        ("python:3.11-slim", False),
        ("python:latest", False),
        ("python", False),
        ("registry.local:5000/python", False),
    ],
)
def test_is_pinned(image: str, pinned: bool) -> None:
    """Only a full release tag or a digest counts as pinned."""
    assert dl.is_pinned(image) is pinned


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("ARG BASE=python:3.11.11-slim-bookworm", "ARG BASE=python:3.11-slim", "is not pinned"),
        ("USER app:app", "USER root", "runs the daemon as root"),
        ("USER app:app", "USER 0:0", "runs the daemon as root"),
        ("USER app:app\n", "", "has no USER"),
        ("HEALTHCHECK --interval=30s CMD app ctl health || exit 1", "HEALTHCHECK NONE", "disables the healthcheck"),
        ("HEALTHCHECK --interval=30s CMD app ctl health || exit 1\n", "", "has no HEALTHCHECK"),
        ("STOPSIGNAL SIGTERM", "STOPSIGNAL SIGKILL", "not one the daemon drains on"),
        ("STOPSIGNAL SIGTERM\n", "", "has no STOPSIGNAL"),
        ('ENTRYPOINT ["app"]', "ENTRYPOINT app", "shell form"),
        ('ENTRYPOINT ["app"]\n', "", "has no ENTRYPOINT"),
        ('VOLUME ["/data"]\n', "", "declares no VOLUME"),
        ('CMD ["run"]', 'CMD ["run"', "CMD"),
        ("COPY --from=build /opt/app /opt/app", "ADD https://example.invalid/x.tgz /opt/", "use COPY"),
        ("FROM $BASE\n", "", "single-stage"),
    ],
)
def test_lint_catches(old: str, new: str, problem: str) -> None:
    """Each structural defect is reported with a message naming it."""
    assert old in GOOD
    problems = dl.lint(GOOD.replace(old, new))
    assert any(problem in p for p in problems), problems


def test_user_in_build_stage_only_is_not_enough() -> None:
    """USER must be in the runtime (last) stage; a USER in the build stage does not carry over."""
    text = GOOD.replace("USER app:app\n", "").replace("FROM ${BASE} AS build\n", "FROM ${BASE} AS build\nUSER app\n")
    assert any("has no USER" in p for p in dl.lint(text))


def test_dangling_continuation_is_reported() -> None:
    """A file ending in a backslash is an error, not silently dropped."""
    assert dl.lint(GOOD + "RUN true \\\n") == ["line 15: instruction ends with a dangling line continuation"]
