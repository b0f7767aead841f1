"""packaging/Dockerfile: passes the lint, installs from the checkout, puts state on its volumes.

Docker cannot run on the CI machines, so the image is not built here; these tests check the file.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

import pytest

from candlewick import config
from tests.packaging import dockerfile_lint as dl
from tests.packaging.conftest import DOCKERFILE, PACKAGING, ROOT


def _final(dockerfile: list[dl.Instruction]) -> list[dl.Instruction]:
    return dl.stages(dockerfile)[-1]


def _env(stage: list[dl.Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in stage:
        if ins.keyword == "ENV":
            for word in ins.args.split():
                name, _, value = word.partition("=")
                env[name] = value
    return env


def _volumes(stage: list[dl.Instruction]) -> list[str]:
    out: list[str] = []
    for ins in stage:
        if ins.keyword == "VOLUME":
            out += dl.argv(ins.args)
    return out


def test_dockerfile_passes_the_lint() -> None:
    """Pinned bases, multi-stage, non-root USER, HEALTHCHECK, STOPSIGNAL, exec-form ENTRYPOINT, VOLUME."""
    assert dl.lint(DOCKERFILE.read_text(encoding="utf-8")) == []


def test_base_is_slim_python_of_a_supported_version(dockerfile: list[dl.Instruction]) -> None:
    """Both stages use the same slim Python image, at a version pyproject's requires-python allows."""
    images = {f.image for f in dl.from_lines(dockerfile)}
    assert len(images) == 1, images
    (image,) = images
    name, _, tag = image.partition(":")
    assert name == "python"
    assert "-slim" in tag
    major, minor = (int(x) for x in tag.split(".")[:2])
    assert (major, minor) >= (3, 11)


def test_package_is_installed_from_the_checkout(dockerfile: list[dl.Instruction]) -> None:
    """The build stage copies the package's folders from the context and pip-installs them."""
    build = dl.stages(dockerfile)[0]
    copied = [dl.argv(ins.args)[:-1] for ins in build if ins.keyword == "COPY"]
    sources = {src.rstrip("/") for srcs in copied for src in srcs}
    assert {"pyproject.toml", "supervisor", "plugins", "tui"} <= sources
    for src in sources:
        assert (ROOT / src).exists(), f"COPY {src}: not in the checkout"
    runs = " ".join(ins.args for ins in build if ins.keyword == "RUN")
    assert "pip install" in runs
    assert " -e " not in runs, "an editable install would tie the image to /src"
    final = _final(dockerfile)
    assert any(ins.keyword == "COPY" and "--from=build" in ins.args for ins in final)


def test_dockerignore_lets_in_what_the_build_copies(dockerfile: list[dl.Instruction]) -> None:
    """Dockerfile.dockerignore starts from nothing and re-includes exactly the copied sources."""
    patterns = [
        line.strip()
        for line in (PACKAGING / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    included = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    build = dl.stages(dockerfile)[0]
    for ins in build:
        if ins.keyword == "COPY" and "--from" not in ins.args:
            for src in dl.argv(ins.args)[:-1]:
                assert any(fnmatch.fnmatch(src.rstrip("/"), pat) for pat in included), f"{src} is ignored"
    assert not {".venv", ".git", "build"} & included


def test_runtime_user_owns_the_volumes(dockerfile: list[dl.Instruction]) -> None:
    """The non-root user is created with a fixed uid, and both volume directories are its own."""
    final = _final(dockerfile)
    runs = " ".join(ins.args for ins in final if ins.keyword == "RUN")
    user = next(ins.args for ins in reversed(final) if ins.keyword == "USER").split(":")[0]
    assert f"useradd --system --uid ${{CANDLEWICK_UID}} --gid {user}" in runs
    for volume in _volumes(final):
        assert re.search(rf"install -d -o {user} -g {user} -m 07[05]0 {re.escape(volume)}\b", runs), volume


def test_defaults_land_on_the_volumes(dockerfile: list[dl.Instruction], monkeypatch: pytest.MonkeyPatch) -> None:
    """With the image's ENV and a non-root uid, the built-in data dir and socket are on the VOLUMEs."""
    final = _final(dockerfile)
    env = _env(final)
    volumes = [Path(v) for v in _volumes(final)]
    assert len(volumes) == 2
    for name in ("XDG_DATA_HOME", "XDG_RUNTIME_DIR", "HOME"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setattr(os, "geteuid", lambda: 10001)
    data, socket = config.default_data_dir(), config.default_socket_path()
    assert data in volumes
    assert socket.parent in volumes


def test_stop_signal_is_one_the_daemon_handles(dockerfile: list[dl.Instruction]) -> None:
    """STOPSIGNAL is SIGTERM, which the daemon turns into a draining shutdown."""
    (stop,) = [ins.args for ins in _final(dockerfile) if ins.keyword == "STOPSIGNAL"]
    assert stop == "SIGTERM"


def _build_runs(dockerfile: list[dl.Instruction]) -> list[str]:
    return [" ".join(ins.args.split()) for ins in dl.stages(dockerfile)[0] if ins.keyword == "RUN"]


def test_dependencies_come_from_the_lock_with_hashes(dockerfile: list[dl.Instruction]) -> None:
    """The venv gets exactly packaging/requirements.lock (hash-checked wheels), then candlewick --no-deps."""
    runs = _build_runs(dockerfile)
    (from_lock,) = [run for run in runs if "-r packaging/requirements.lock" in run]
    assert "--require-hashes" in from_lock
    assert "--only-binary :all:" in from_lock, "no source builds on the NAS"
    (own,) = [run for run in runs if "candlewick-*.whl" in run]
    assert re.search(r"install [^&]*--no-deps [^&]*candlewick-\*\.whl", own), "the lock brought the dependencies"
    assert "--require-hashes -r packaging/build-requirements.lock" in own, "setuptools is pinned too"
    assert "--no-build-isolation" in own, "build isolation would fetch an unpinned setuptools"
    copies = [ins for ins in dl.stages(dockerfile)[0] if ins.keyword == "COPY"]
    first_source = next(i for i, ins in enumerate(copies) if "pyproject.toml" in dl.argv(ins.args))
    first_lock = next(i for i, ins in enumerate(copies) if "packaging/requirements.lock" in dl.argv(ins.args))
    assert first_lock < first_source, "copy the lock first: the dependency layer stays cached across code changes"


def test_runtime_venv_has_no_pip_or_setuptools(dockerfile: list[dl.Instruction]) -> None:
    """The runtime venv is made without pip (the build stage's pip installs into it with --python),
    the build tools live in a venv the runtime stage does not copy, and the build checks the result."""
    runs = _build_runs(dockerfile)
    made = [re.search(r"-m venv (.*?) ?(/opt/\S+)", run) for run in runs]
    venvs = {m[2]: m[1] for m in made if m is not None}
    assert venvs["/opt/candlewick"] == "--without-pip"
    for run in runs:
        assert "/opt/candlewick/bin/pip" not in run, "the venv has no pip of its own"
    own = next(run for run in runs if "candlewick-*.whl" in run)
    for module in ("pip", "setuptools", "pkg_resources"):
        assert f'! /opt/candlewick/bin/python -c "import {module}"' in own, module
    copied = [dl.argv(ins.args) for ins in _final(dockerfile) if ins.keyword == "COPY" and "--from=build" in ins.args]
    assert copied == [["--from=build", "/opt/candlewick", "/opt/candlewick"]]
    assert set(venvs) - {"/opt/candlewick"}, "the build tools have a venv of their own"
    assert not [ins for ins in _final(dockerfile) if ins.keyword == "RUN" and "pip" in ins.args]
