"""packaging/requirements.lock and build-requirements.lock: the image installs exactly these.

The image installs its dependencies with ``pip install --require-hashes -r packaging/requirements.lock``
and then candlewick itself with ``--no-deps``, so nothing checks at build time that the lock still
covers pyproject.toml. These tests do, offline: every dependency pyproject.toml names is pinned at
a version its specifier allows, with hashes, and the lock is closed under the dependencies that
the installed distributions declare (for every locked package installed here at the locked version).
Refresh the locks with ``packaging/lock-requirements.sh``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name as _canonical
from packaging.version import Version

from tests.packaging import dockerfile_lint as dl
from tests.packaging.conftest import DOCKERFILE, PACKAGING, ROOT

LOCK = PACKAGING / "requirements.lock"
BUILD_LOCK = PACKAGING / "build-requirements.lock"
SCRIPT = PACKAGING / "lock-requirements.sh"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: Where pyproject's own dependencies say they come from in the lock's `# via` notes.
ROOT_VIA = "candlewick (pyproject.toml)"
#: Extras the image installs with the core (the HTTP API and dashboard, off until [web] listen is set).
IMAGE_EXTRAS = ("web",)
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:(?P<digest>[0-9a-f]{64})\b")


def canonicalize_name(name: str) -> str:
    """The PEP 503 form of a distribution name (``Typing_Extensions`` -> ``typing-extensions``)."""
    return str(_canonical(name))


@dataclass
class Pin:
    """One package of a lock: its version, file hashes and what pulled it in."""

    version: Version
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def read_lock(path: Path) -> dict[str, Pin]:
    """name (canonical) -> Pin, from a ``uv pip compile --generate-hashes`` output."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if match := _PIN.match(raw):
            current = pins[canonicalize_name(match["name"])] = Pin(Version(match["version"]))
            in_via = False
        elif current is not None and (digest := _HASH.search(line)):
            current.hashes.append(digest["digest"])
        elif current is not None and line.startswith("# via"):
            rest = line.removeprefix("# via").strip()
            in_via = not rest
            if rest:
                current.via.append(rest)
        elif current is not None and in_via and line.startswith("#   "):
            current.via.append(line.removeprefix("#").strip())
        elif line and not line.startswith("#"):
            pytest.fail(f"{path.name}: unexpected line {raw!r}")
    return pins


def image_environment() -> dict[str, str]:
    """PEP 508 marker values of the image: CPython 3.11 on x86-64 Linux."""
    return {
        "implementation_name": "cpython",
        "implementation_version": "3.11.11",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": "3.11.11",
        "python_version": "3.11",
        "sys_platform": "linux",
        "extra": "",
    }


def applies(requirement: Requirement, extras: set[str]) -> bool:
    """Whether the image installs ``requirement`` (its marker, for no extra or any of ``extras``)."""
    if requirement.marker is None:
        return True
    env = image_environment()
    return any(requirement.marker.evaluate({**env, "extra": extra}) for extra in {"", *extras})


@pytest.fixture(scope="module")
def lock() -> dict[str, Pin]:
    return read_lock(LOCK)


def image_requirements() -> list[str]:
    """What the image installs: [project] dependencies and those of :data:`IMAGE_EXTRAS`."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    return [*PYPROJECT["project"]["dependencies"], *(text for name in IMAGE_EXTRAS for text in extras[name])]


def test_every_runtime_dependency_is_pinned_with_hashes(lock: dict[str, Pin]) -> None:
    """Each [project] dependency (and the web extra's) is in the lock at a version its specifier allows."""
    direct = [Requirement(text) for text in image_requirements()]
    assert len(direct) >= 10
    for req in direct:
        name = canonicalize_name(req.name)
        assert name in lock, f"{req} is not in {LOCK.name}: run packaging/lock-requirements.sh"
        pin = lock[name]
        assert req.specifier.contains(pin.version, prereleases=True), (
            f"{LOCK.name} pins {name}=={pin.version}, pyproject.toml asks {req}: run packaging/lock-requirements.sh"
        )


def test_every_locked_file_has_a_hash(lock: dict[str, Pin]) -> None:
    """--require-hashes refuses a package without one; every entry carries at least one sha256."""
    assert lock
    for name, pin in lock.items():
        assert pin.hashes, f"{name} has no --hash in {LOCK.name}"
        assert len(set(pin.hashes)) == len(pin.hashes), f"{name}: a hash is listed twice"


def test_the_lock_holds_what_pyproject_reaches_and_nothing_else(lock: dict[str, Pin]) -> None:
    """The packages noted as pulled in by pyproject are exactly its dependencies, and every other
    entry is pulled in by a locked package: a dependency dropped from pyproject leaves no orphan."""
    direct = {canonicalize_name(Requirement(text).name) for text in image_requirements()}
    from_root = {name for name, pin in lock.items() if ROOT_VIA in pin.via}
    assert from_root == direct, f"{LOCK.name} is stale: run packaging/lock-requirements.sh"
    reached = set(direct)
    parents = {name: {canonicalize_name(v) for v in pin.via if v != ROOT_VIA} for name, pin in lock.items()}
    for name, via in parents.items():
        assert via <= lock.keys(), f"{name} is pulled in by {sorted(via - lock.keys())}, which are not locked"
    changed = True
    while changed:
        changed = False
        for name, via in parents.items():
            if name not in reached and via & reached:
                reached.add(name)
                changed = True
    assert reached == set(lock), f"locked but reached from nothing: {sorted(set(lock) - reached)}"


def test_the_lock_is_closed_under_declared_dependencies(lock: dict[str, Pin]) -> None:
    """For every locked package installed here at the locked version, each requirement it declares
    for CPython 3.11 on Linux is locked at a version that satisfies it (pip --no-deps checks nothing)."""
    # A dependency written with extras (pkg[extra]) brings the extra's requirements too.
    extras = {canonicalize_name(req.name): req.extras for req in map(Requirement, image_requirements())}
    checked = 0
    for name, pin in lock.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if Version(dist.version) != pin.version:
            continue
        checked += 1
        for text in dist.requires or []:
            req = Requirement(text)
            if not applies(req, extras.get(name, set())):
                continue
            dep = canonicalize_name(req.name)
            assert dep in lock, f"{name}=={pin.version} needs {req}, which {LOCK.name} lacks"
            assert req.specifier.contains(lock[dep].version, prereleases=True), (
                f"{name}=={pin.version} needs {req}, {LOCK.name} pins {dep}=={lock[dep].version}"
            )
    # A package the test venv holds at another version (a release newer than the lock) cannot be
    # read offline; the `# via` notes above still tie it into the lock.
    assert checked, f"no package of {LOCK.name} is installed here at its pin: run packaging/lock-requirements.sh"


def test_build_requirements_are_pinned_with_hashes() -> None:
    """The build stage builds candlewick's wheel with the locked [build-system] requires, no isolation."""
    build = read_lock(BUILD_LOCK)
    for text in PYPROJECT["build-system"]["requires"]:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in build, f"{req} is not in {BUILD_LOCK.name}: run packaging/lock-requirements.sh"
        assert req.specifier.contains(build[name].version, prereleases=True), f"{BUILD_LOCK.name}: {name}"
        assert build[name].hashes


def test_locks_are_made_by_the_script_for_the_image_python() -> None:
    """Both locks name the refresh script, which resolves for the Dockerfile's Python on x86-64 Linux."""
    for path in (LOCK, BUILD_LOCK):
        assert "packaging/lock-requirements.sh" in path.read_text(encoding="utf-8").split("\n", 3)[1], path.name
    script = SCRIPT.read_text(encoding="utf-8")
    assert SCRIPT.stat().st_mode & 0o111, "the refresh script must be executable"
    match = re.search(r"--python-version (\d+\.\d+) --python-platform (x86_64-manylinux_2_\d+)", script)
    assert match is not None
    (image,) = {f.image for f in dl.from_lines(dl.parse(DOCKERFILE.read_text(encoding="utf-8")))}
    tag = image.partition(":")[2]
    assert tag.startswith(f"{match[1]}."), f"the locks are for Python {match[1]}, the image runs {tag}"
    assert "bookworm" in tag, "x86_64-manylinux_2_36 is bookworm's glibc; re-check the platform with the base"
    assert "--generate-hashes" in script
