"""Configuration: one ``Settings`` model from TOML file, environment and defaults.

Precedence (highest first): ``CANDLEWICK_<SECTION>__<KEY>`` environment variables, the config
file, built-in defaults. The file is the first that exists of ``--config``,
``$CANDLEWICK_CONFIG``, ``./candlewick.toml``, ``$XDG_CONFIG_HOME/candlewick/candlewick.toml``
and ``/etc/candlewick/candlewick.toml``. Plugin sections (``[sources.<name>]``,
``[sink.<name>]``, ``[buffer.<name>]``) stay raw here and are validated by each plugin's own
model through :func:`validate_section`. ``CANDLEWICK_..._FILE=path`` reads a value from a
file (Docker secrets).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from candlewick.errors import ConfigError
from candlewick.runtime.policy import (
    DEFAULT_BACKOFF_FACTOR,
    DEFAULT_BACKOFF_INITIAL,
    DEFAULT_BACKOFF_MAX,
    DEFAULT_MAX_RESTARTS,
    DEFAULT_RESET_AFTER,
    DEFAULT_WITHIN,
    RestartPolicy,
    RestartType,
)

ENV_PREFIX = "CANDLEWICK_"
CONFIG_ENV = "CANDLEWICK_CONFIG"
SECRET_KEYS = re.compile(r"(password|secret|token)$", re.IGNORECASE)
_DSN_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@]*:)(?P<pw>[^@]*)(?P<tail>@)", re.IGNORECASE)

M = TypeVar("M", bound=BaseModel)


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/candlewick`` (``/var/lib/candlewick`` as root)."""
    if os.geteuid() == 0:
        return Path("/var/lib/candlewick")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "candlewick"


def default_socket_path() -> Path:
    """``$XDG_RUNTIME_DIR/candlewick/control.sock``, or ``/run/candlewick/control.sock`` as root."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.geteuid() != 0:
        return Path(runtime) / "candlewick" / "control.sock"
    if os.geteuid() == 0:
        return Path("/run/candlewick/control.sock")
    return Path(f"/tmp/candlewick-{os.geteuid()}/control.sock")


class Section(BaseModel):
    """A core config section: unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class PluginSection(BaseModel):
    """``use`` picks a plugin; ``[<section>.<name>]`` tables go to that plugin unvalidated here."""

    model_config = ConfigDict(extra="allow")

    def plugin_options(self, name: str) -> dict[str, Any]:
        extra = self.model_extra or {}
        value = extra.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a table of options, got {value!r}")
        return value


class SinkSection(PluginSection):
    use: str = "sqlite"
    """Which sink stores candles: ``sqlite`` (embedded default) or ``timescaledb``."""


class BufferSection(PluginSection):
    use: str = "memory"
    """Which buffer sits between sources and sink."""


class SpoolSection(Section):
    dir: Path | None = None
    """Where batches go while the sink is down or slow (default: ``<data_dir>/spool/<sink>-<digest>``,
    one per sink and database; a directory set here is used as is, shared if configs share it)."""
    max_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    """Size cap of the spool; past it the daemon warns and applies backpressure instead."""
    fsync: Literal["always", "interval", "never"] = "always"
    """When spooled batches are forced to disk: ``always`` (every batch survives a power cut),
    ``interval`` (at most once per ``fsync_interval``), ``never`` (the OS decides; a killed
    daemon loses nothing, a power cut may lose the last seconds)."""
    fsync_interval: float = Field(default=1.0, gt=0)
    """Seconds between forced writes when ``fsync = "interval"``."""


class ControlSection(Section):
    socket: Path | None = None
    """Unix socket path (default ``$XDG_RUNTIME_DIR/candlewick/control.sock``, as root ``/run/...``)."""
    tcp_listen: str | None = None
    """Optional loopback TCP listener ``127.0.0.1:PORT``; needs ``token_file``. Off by default."""
    token_file: Path | None = None
    """File holding the token TCP clients must present."""

    def socket_path(self) -> Path:
        return self.socket or default_socket_path()


class MetricsSection(Section):
    listen: str | None = None
    """Serve Prometheus metrics on ``host:port`` (e.g. ``127.0.0.1:9464``). Off when unset."""


class WebSection(Section):
    listen: str | None = None
    """Serve the HTTP API and the web dashboard on ``host:port`` (e.g. ``127.0.0.1:8000``). Off when
    unset; needs ``pip install 'candlewick[web]'``."""
    token: str | None = None
    """Bearer token every request must present (``Authorization: Bearer ...``, or ``?token=`` once to
    get a cookie in a browser). Unset: no token asked."""
    token_file: Path | None = None
    """File holding that token instead (Docker secrets); wins over ``token``."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """Host header values accepted (``name`` or ``name:port``), against DNS rebinding. Always allowed:
    ``localhost``, ``127.0.0.1``, ``[::1]`` and the listen host."""
    cors_origins: list[str] = Field(default_factory=list)
    """Origins other web pages may read the API from (``https://grafana.example``). None by default."""
    max_clients: int = Field(default=32, ge=1, le=1024)
    """Requests served at once; more are answered 503."""
    max_streams: int = Field(default=16, ge=1, le=1024)
    """Live streams (``/api/v1/stream``) open at once; more are answered 503."""


class LoggingSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Log level; also ``--log-level`` or ``CANDLEWICK_LOG_LEVEL``."""
    format: Literal["text", "json"] = "text"
    """``json`` writes one JSON object per line (containers)."""

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v: object) -> object:
        return v.upper() if isinstance(v, str) else v


class DaemonSection(Section):
    data_dir: Path | None = None
    """State files (SQLite default database, spool, ledgers). Default ``$XDG_DATA_HOME/candlewick``."""
    shutdown_timeout: float = Field(default=10.0, gt=0)
    """Seconds a graceful shutdown may take before what remains is cancelled."""
    backend: Literal["asyncio", "trio"] = "asyncio"
    """Async backend the daemon runs on."""
    queue_size: int = Field(default=10_000, gt=0)
    """Capacity of the candle stream from sources into the buffer (backpressure past it)."""
    max_clock_offset: float = Field(default=5.0, gt=0)
    """Health is degraded while the local clock is off the exchange's by more than this many seconds
    (candles still close on the exchange's clock; fix NTP)."""
    block_warning_ms: float = Field(default=250.0, ge=0)
    """Warn, naming the plugin, when code holds the event loop longer than this many milliseconds
    (0 turns the watchdog off)."""

    def data_path(self) -> Path:
        return self.data_dir or default_data_dir()


class RestartSection(Section):
    restart: RestartType = RestartType.PERMANENT
    """``permanent`` (always restart), ``transient`` (only after a crash) or ``temporary`` (never)."""
    backoff_initial: float = Field(default=DEFAULT_BACKOFF_INITIAL, ge=0)
    """First backoff ceiling in seconds (full jitter: the delay is uniform in [0, ceiling])."""
    backoff_factor: float = Field(default=DEFAULT_BACKOFF_FACTOR, ge=1)
    """Growth of the ceiling per consecutive crash."""
    backoff_max: float = Field(default=DEFAULT_BACKOFF_MAX, ge=0)
    """Cap of the ceiling."""
    reset_after: float = Field(default=DEFAULT_RESET_AFTER, ge=0)
    """Uptime after which the backoff starts over."""
    max_restarts: int = Field(default=DEFAULT_MAX_RESTARTS, ge=0)
    """At most this many restarts within ``within`` seconds, then the component is ``failed``."""
    within: float = Field(default=DEFAULT_WITHIN, gt=0)
    """Window of the restart intensity, seconds."""
    critical: bool | None = None
    """A critical component that fails stops the daemon with exit 1 (default: per component)."""

    def policy(self, base: RestartPolicy) -> RestartPolicy:
        """Apply only the keys set in the config over a component's default policy."""
        overrides = {k: getattr(self, k) for k in self.model_fields_set}
        if overrides.get("critical") is None:
            overrides.pop("critical", None)
        return RestartPolicy(**{**_policy_fields(base), **overrides})


def _policy_fields(p: RestartPolicy) -> dict[str, Any]:
    return {name: getattr(p, name) for name in p.__dataclass_fields__}


class Settings(BaseSettings):
    """The daemon's whole configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    sources: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"hyperliquid": dict[str, Any]()})
    """One table per source plugin to run, e.g. ``[sources.hyperliquid]``."""
    buffer: BufferSection = Field(default_factory=BufferSection)
    sink: SinkSection = Field(default_factory=SinkSection)
    spool: SpoolSection = Field(default_factory=SpoolSection)
    control: ControlSection = Field(default_factory=ControlSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    web: WebSection = Field(default_factory=WebSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    daemon: DaemonSection = Field(default_factory=DaemonSection)
    restart: dict[str, RestartSection] = Field(default_factory=dict)
    """``[restart.default]`` for every component, ``[restart.<name>]`` for one."""

    #: The file these settings came from (None: defaults and environment only).
    _source_path: Path | None = None

    @property
    def source_path(self) -> Path | None:
        return self._source_path

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file (passed as init kwargs by load_settings).
        return (env_settings, init_settings)

    def restart_policy(self, name: str, base: RestartPolicy) -> RestartPolicy:
        """The effective policy of component ``name``: its default, ``[restart.default]``, then its own."""
        policy = base
        for key in ("default", name):
            section = self.restart.get(key)
            if section is not None:
                policy = section.policy(policy)
        return policy


def find_config_file(explicit: Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read, in the documented search order; None when there is none."""
    env = environ if environ is not None else os.environ
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {str(explicit)!r} does not exist", hint="check the --config path")
        return explicit
    if env.get(CONFIG_ENV):
        path = Path(env[CONFIG_ENV])
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV}={str(path)!r} does not exist", hint="fix or unset the variable")
        return path
    xdg = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    for candidate in (
        Path("candlewick.toml"),
        Path(xdg) / "candlewick" / "candlewick.toml",
        Path("/etc/candlewick/candlewick.toml"),
    ):
        if candidate.is_file():
            return candidate
    return None


def _file_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """``CANDLEWICK_X__Y_FILE=/path`` becomes ``CANDLEWICK_X__Y=<file content>``."""
    out: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and key.endswith("_FILE") and key != CONFIG_ENV + "_FILE":
            target = key[: -len("_FILE")]
            try:
                out[target] = Path(value).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{key}={value!r} cannot be read: {exc.strerror}") from exc
    return out


def load_settings(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the config; raises :class:`ConfigError` naming the bad key."""
    env = dict(environ if environ is not None else os.environ)
    found = find_config_file(path, env)
    data: dict[str, Any] = {}
    if found is not None:
        try:
            data = tomllib.loads(found.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{found}: not valid TOML: {exc}", hint="fix the syntax at that line") from exc
        except OSError as exc:
            raise ConfigError(f"{found}: cannot be read: {exc.strerror}") from exc
    secrets = _file_secrets(env)
    patched = {k: v for k, v in env.items() if not (k.startswith(ENV_PREFIX) and k.endswith("_FILE"))}
    patched.update(secrets)
    saved = dict(os.environ)
    try:
        # pydantic-settings reads os.environ; give it exactly the environment asked for.
        os.environ.clear()
        os.environ.update(patched)
        settings = Settings(**data)
    except ValidationError as exc:
        raise config_error(exc, prefix="") from None
    finally:
        os.environ.clear()
        os.environ.update(saved)
    settings._source_path = found
    return settings


def _loc(loc: tuple[int | str, ...], prefix: str) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    return ".".join(([prefix] if prefix else []) + parts)


def config_error(exc: ValidationError, *, prefix: str) -> ConfigError:
    """Turn a pydantic error into one message per bad key: ``key: 'value' is not ...``."""
    lines = []
    for err in exc.errors(include_url=False):
        key = _loc(err["loc"], prefix) or "(top level)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (check the spelling; etc/candlewick.toml lists every key)")
        elif err["type"] == "value_error" or "input" not in err:
            lines.append(f"{key}: {msg}")
        else:
            lines.append(f"{key}: {err['input']!r} is not valid: {msg}")
    return ConfigError("; ".join(lines), hint="see etc/candlewick.toml for every key and its allowed values")


def _decode_env_strings(model: type[BaseModel], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Environment values arrive as strings: decode JSON (or commas) where a list or dict is wanted."""
    out = dict(raw)
    for name, field in model.model_fields.items():
        value = out.get(name)
        if not isinstance(value, str):
            continue
        origin = typing.get_origin(field.annotation)
        if origin in (list, tuple, set, frozenset, dict):
            try:
                out[name] = json.loads(value)
            except json.JSONDecodeError:
                if origin is not dict:
                    out[name] = [part.strip() for part in value.split(",") if part.strip()]
    return out


def validate_section(model: type[M], raw: Mapping[str, Any], *, prefix: str) -> M:
    """Validate a plugin's section with its own model; errors name ``prefix.key``."""
    try:
        return model.model_validate(_decode_env_strings(model, raw))
    except ValidationError as exc:
        raise config_error(exc, prefix=prefix) from None


def mask_secrets(value: Any, key: str = "") -> Any:
    """A copy of a config dump with passwords, tokens and DSN passwords masked."""
    if isinstance(value, dict):
        return {k: mask_secrets(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, key) for v in value]
    if isinstance(value, str):
        if SECRET_KEYS.search(key) and value:
            return "********"
        return _DSN_PASSWORD.sub(r"\g<head>********\g<tail>", value)
    return value
