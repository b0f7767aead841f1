"""packaging/docker-compose.yml: TimescaleDB pinned and healthy first, secrets, volumes, memory.

Docker cannot run on the CI machines, so ``docker compose up`` is not run here; these tests read
the file with PyYAML and check it against the Dockerfile, the config loader and the daemon.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest

from candlewick.config import DaemonSection, load_settings
from candlewick.runtime.daemon import KILL_GRACE
from tests.packaging import dockerfile_lint as dl
from tests.packaging.conftest import COMPOSE_CONFIG, PACKAGING, ROOT
from tests.packaging.unitfile import seconds

SECRET_ENV = "CANDLEWICK_SINK__TIMESCALEDB__PASSWORD_FILE"
MiB = 1024 * 1024
_SIZE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>[kmg]?)i?b?$", re.IGNORECASE)
#: What the whole stack may take of the DS218+'s 2 GB (DSM and its page cache need the rest).
NAS_BUDGET = 1024 * MiB
#: The compose project name, which the README's volume names and commands assume.
PROJECT = "candlewick"


def size(text: str | int) -> int:
    """``640m``, ``160MB``, ``1g`` (compose and PostgreSQL units, both base 1024) in bytes."""
    match = _SIZE.match(str(text).strip())
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    return int(float(match.group("n")) * {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB}[match.group("unit").lower()])


def pg_settings(service: dict[str, Any]) -> dict[str, str]:
    """The ``-c key=value`` flags of the postgres command."""
    command = service["command"]
    assert command[0] == "postgres"
    return dict(item.split("=", 1) for prev, item in itertools.pairwise(command) if prev == "-c")


def mounts(service: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """target -> (source, options) of a service's short-syntax volumes."""
    out = {}
    for entry in service["volumes"]:
        source, target, *options = entry.split(":")
        out[target] = (source, ",".join(options))
    return out


@pytest.fixture
def db(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"]["timescaledb"])


@pytest.fixture
def app(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"]["candlewick"])


def test_two_services(compose: dict[str, Any]) -> None:
    """The stack is the database and the daemon, nothing else."""
    assert set(compose["services"]) == {"timescaledb", "candlewick"}


#: The top-level keys docker-compose v1 (1.27+, the Compose Specification schema) accepts; it
#: refuses anything else (`'name' does not match any of the regexes: '^x-'`), unlike v2.
COMPOSE_V1_TOP_LEVEL = {"version", "services", "networks", "volumes", "secrets", "configs"}


def test_docker_compose_v1_accepts_the_top_level(compose: dict[str, Any]) -> None:
    """No top-level `name:` or other v2-only key: Synology's and Debian's docker-compose v1 read it too."""
    extra = {key for key in compose if key not in COMPOSE_V1_TOP_LEVEL and not key.startswith("x-")}
    assert extra == set(), f"docker-compose v1 refuses the file because of {sorted(extra)}"


def test_project_name_comes_from_the_env_file_beside_it() -> None:
    """COMPOSE_PROJECT_NAME in packaging/.env, which v1 and v2 read from the compose file's folder."""
    env = dict(
        line.split("=", 1)
        for line in (PACKAGING / ".env").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert env == {"COMPOSE_PROJECT_NAME": PROJECT}


def test_names_do_not_depend_on_the_project_name(compose: dict[str, Any]) -> None:
    """Explicit container and volume names: a stack brought up under another project name (`-p`,
    Container Manager) finds the same volumes, named as compose names them under `candlewick`."""
    for name, service in compose["services"].items():
        assert service["container_name"].startswith(PROJECT), name
    for key, volume in compose["volumes"].items():
        assert volume["name"] == f"{PROJECT}_{key}", key


def test_database_is_the_official_image_pinned(db: dict[str, Any]) -> None:
    """The official TimescaleDB image on a release tag naming its PostgreSQL major (no 'latest')."""
    image = db["image"]
    assert image.startswith("timescale/timescaledb:")
    assert dl.is_pinned(image)
    assert re.search(r"-pg1[4-9]$", image), "the tag must name the PostgreSQL major version"


def test_database_is_a_timescaledb_release_with_the_job_fixes(db: dict[str, Any]) -> None:
    """2.31.2 or later: before it, ON CONFLICT into compressed chunks stopped at the first conflict
    (#7672), uniqueness checks on compressed chunks were wrong (#9276, #10003), and every scheduled
    job, the compression policy included, fails on the newest PostgreSQL minor releases (#11015)."""
    match = re.fullmatch(r"timescale/timescaledb:(\d+)\.(\d+)\.(\d+)-pg(\d+)", db["image"])
    assert match is not None, db["image"]
    major, minor, patch, pg = (int(x) for x in match.groups())
    assert (major, minor, patch) >= (2, 31, 2)
    # TimescaleDB 2.29 dropped PostgreSQL 15; 16 keeps an existing stack's data in place (no dump).
    assert pg >= 16
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`{db['image']}`" in readme, "the README's Docker section names another TimescaleDB image"


def test_database_healthcheck_waits_for_tcp(db: dict[str, Any]) -> None:
    """pg_isready over TCP, as the configured user and database (init runs on the Unix socket only)."""
    health = db["healthcheck"]
    test = " ".join(health["test"][1:])
    assert health["test"][0] == "CMD-SHELL"
    assert "pg_isready" in test
    assert "-h 127.0.0.1" in test
    assert f"-U {db['environment']['POSTGRES_USER']}" in test
    assert f"-d {db['environment']['POSTGRES_DB']}" in test
    for key in ("interval", "timeout", "start_period"):
        assert seconds(health[key]) > 0


def test_database_data_is_on_a_named_volume(compose: dict[str, Any], db: dict[str, Any]) -> None:
    """PGDATA lives on a declared named volume, not in the container layer or a host path."""
    source, _ = mounts(db)["/var/lib/postgresql/data"]
    assert source in compose["volumes"]


def test_daemon_starts_once_the_database_is_healthy(app: dict[str, Any]) -> None:
    """depends_on waits for the database healthcheck, not merely for its container."""
    assert app["depends_on"] == {"timescaledb": {"condition": "service_healthy"}}


@pytest.mark.parametrize("service", ["timescaledb", "candlewick"])
def test_restart_policy(compose: dict[str, Any], service: str) -> None:
    """Both restart after a crash and after the NAS reboots, but stay down when stopped by hand."""
    assert compose["services"][service]["restart"] == "unless-stopped"


def test_daemon_image_is_built_from_this_checkout(app: dict[str, Any]) -> None:
    """The build context is the repository root and the Dockerfile path exists in it."""
    context = (PACKAGING / app["build"]["context"]).resolve()
    assert context == ROOT
    assert (context / app["build"]["dockerfile"]).is_file()


def test_daemon_volumes_match_the_image(app: dict[str, Any], compose: dict[str, Any]) -> None:
    """The image's VOLUMEs get named volumes, and the compose config is mounted read-only."""
    dockerfile = dl.parse((PACKAGING / "Dockerfile").read_text(encoding="utf-8"))
    declared = [v for ins in dl.stages(dockerfile)[-1] if ins.keyword == "VOLUME" for v in dl.argv(ins.args)]
    m = mounts(app)
    for target in declared:
        source, _ = m[target]
        assert source in compose["volumes"], f"{target} is not on a named volume"
    source, options = m["/etc/candlewick/candlewick.toml"]
    assert (PACKAGING / source).resolve() == COMPOSE_CONFIG
    assert options == "ro"


def test_password_is_a_secret_for_both(compose: dict[str, Any], db: dict[str, Any], app: dict[str, Any]) -> None:
    """One secret file feeds POSTGRES_PASSWORD_FILE and the daemon's *_FILE variable; no plain password."""
    (name,) = compose["secrets"]
    assert compose["secrets"][name]["file"].startswith("./secrets/")
    ignored = (PACKAGING / ".gitignore").read_text(encoding="utf-8").split()
    assert "secrets/" in ignored, "the secret's folder must never be committed"
    path = f"/run/secrets/{name}"
    assert db["secrets"] == [name]
    assert app["secrets"] == [name]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == path
    assert app["environment"][SECRET_ENV] == path
    for service in (db, app):
        assert not any("PASSWORD" in k and not k.endswith("_FILE") for k in service.get("environment", {}))


def test_stop_grace_lets_the_daemon_drain(app: dict[str, Any]) -> None:
    """SIGTERM, then more time than the shutdown deadline plus the kill grace before SIGKILL."""
    drain = DaemonSection().shutdown_timeout + KILL_GRACE
    assert app["stop_signal"] == "SIGTERM"
    assert seconds(app["stop_grace_period"]) >= 2 * drain
    assert app["init"] is True


def test_memory_limits_fit_a_2gb_nas(db: dict[str, Any], app: dict[str, Any]) -> None:
    """Both services are capped, the total leaves DSM at least 1 GB, and the daemon has TUI headroom."""
    db_limit, app_limit = size(db["mem_limit"]), size(app["mem_limit"])
    assert db_limit + app_limit <= NAS_BUDGET
    assert app_limit >= 2 * 80 * MiB, "the daemon (<= 80 MB) and `docker exec ... tui` share this limit"
    for service in (db, app):
        assert size(service["memswap_limit"]) == size(service["mem_limit"]), "no swap: a thrashing NAS stalls"


def test_postgres_settings_fit_its_limit(db: dict[str, Any]) -> None:
    """shared_buffers ~25 % of the limit, and buffers + maintenance + per-connection sorts stay under it."""
    limit = size(db["mem_limit"])
    pg = pg_settings(db)
    shared = size(pg["shared_buffers"])
    assert 0.15 * limit <= shared <= 0.3 * limit
    worst = shared + size(pg["maintenance_work_mem"]) + int(pg["max_connections"]) * 2 * size(pg["work_mem"])
    assert worst <= 0.8 * limit
    assert size(pg["effective_cache_size"]) <= limit
    # TimescaleDB's rule (timescaledb-tune applies it too): 3 + background workers + parallel workers.
    needed = 3 + int(pg["timescaledb.max_background_workers"]) + int(pg["max_parallel_workers"])
    assert int(pg["max_worker_processes"]) >= needed, "TimescaleDB jobs and parallel queries would starve"
    assert size(db["shm_size"]) >= 64 * MiB
    assert db["environment"]["NO_TS_TUNE"] == "true", "timescaledb-tune would overwrite these for the host's RAM"


def test_compose_config_loads_with_the_secret(
    tmp_path: Path, db: dict[str, Any], app: dict[str, Any], compose: dict[str, Any]
) -> None:
    """etc/candlewick.compose.toml plus the compose environment gives a TimescaleDB sink with its password."""
    secret = tmp_path / "db_password"
    secret.write_text("s3cret-from-file\n")
    env = {**{k: str(v) for k, v in app["environment"].items()}, SECRET_ENV: str(secret)}
    settings = load_settings(COMPOSE_CONFIG, environ=env)
    assert settings.sink.use == "timescaledb"
    options = settings.sink.plugin_options("timescaledb")
    assert options["password"] == "s3cret-from-file"
    dsn = urlsplit(options["dsn"])
    assert dsn.hostname == "timescaledb"
    assert "timescaledb" in compose["services"]
    assert dsn.username == db["environment"]["POSTGRES_USER"]
    assert dsn.path.lstrip("/") == db["environment"]["POSTGRES_DB"]
    assert dsn.password is None, "the password comes from the secret, never from the file"
    m = mounts(app)
    assert str(settings.control.socket_path().parent) in m
    assert str(settings.daemon.data_path()) in m
    assert PurePosixPath(settings.daemon.data_path()).is_absolute()


def test_compose_config_validates_with_the_timescaledb_plugin(tmp_path: Path, app: dict[str, Any]) -> None:
    """The sink section, password included, passes the TimescaleDB plugin's own config model."""
    from candlewick.config import validate_section
    from candlewick.pluginmanager import build_plugin_manager

    secret = tmp_path / "db_password"
    secret.write_text("pw")
    settings = load_settings(COMPOSE_CONFIG, environ={SECRET_ENV: str(secret)})
    spec = build_plugin_manager().spec("sink", "timescaledb")
    assert spec.config_model is not None
    validate_section(spec.config_model, settings.sink.plugin_options("timescaledb"), prefix="sink.timescaledb")


@pytest.mark.postgres
def test_postgres_flags_are_real_settings(db: dict[str, Any]) -> None:
    """Every core `-c` flag names a PostgreSQL setting, with a value of that setting's type and unit."""
    result = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-XAtq", "-F", "|", "-v", "ON_ERROR_STOP=1",
         "-c", "SELECT name, vartype, coalesce(unit, '') FROM pg_settings"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    known = {name: (vartype, unit) for name, vartype, unit in (line.split("|") for line in result.stdout.splitlines())}
    core = {k: v for k, v in pg_settings(db).items() if not k.startswith("timescaledb.")}
    assert len(core) >= 8
    for name, value in core.items():
        assert name in known, f"-c {name}: not a PostgreSQL setting"
        vartype, unit = known[name]
        assert vartype == "integer", f"-c {name}: expected a size or count, PostgreSQL says {vartype}"
        if unit.endswith("B"):  # kB, 8kB, MB: a memory or disk size
            assert size(value) % MiB == 0, f"-c {name}={value}: give a size in MB"
        else:
            assert value.isdigit(), f"-c {name}={value}: expected a plain number"


def test_web_port_is_published_on_the_nas_loopback_only(tmp_path: Path, app: dict[str, Any]) -> None:
    """127.0.0.1:8000 of the NAS to the container's [web] listen port; the Host allow-list takes the tunnel."""
    from candlewick.web.hosts import HostAllowList, parse_web_listen

    (published,) = app["ports"]
    host_ip, host_port, container_port = str(published).split(":")
    assert host_ip == "127.0.0.1", "the API is reached over an SSH tunnel, never published on the LAN"
    secret = tmp_path / "db_password"
    secret.write_text("x\n")
    settings = load_settings(COMPOSE_CONFIG, environ={SECRET_ENV: str(secret)})
    assert settings.web.listen is not None
    listen_host, listen_port = parse_web_listen(settings.web.listen)
    assert listen_host == "0.0.0.0", "inside the container it must listen beyond its own loopback"
    assert int(container_port) == listen_port
    hosts = HostAllowList(listen_host, settings.web.allowed_hosts)
    for header in (f"localhost:{host_port}", f"127.0.0.1:{host_port}"):
        assert hosts.allows(header), header
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"ssh -L {host_port}:127.0.0.1:{host_port}" in readme
