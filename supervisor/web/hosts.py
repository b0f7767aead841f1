"""Where the web service listens, and which ``Host`` headers it answers (DNS rebinding).

A page on another site can make a browser resolve its own name to 127.0.0.1 and then read the
API as if it were that site; the ``Host`` header still carries the attacker's name. Only the
names listed here are answered: the loopback names, the listen host, and ``[web] allowed_hosts``.
No I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from candlewick.errors import ConfigError

__all__ = ["HostAllowList", "parse_web_listen"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def parse_web_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:8000"``, ``"0.0.0.0:8000"`` or ``"[::1]:8000"`` -> (host, port)."""
    host, sep, port_s = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_s.isdigit() or not 0 <= int(port_s) < 65536:
        raise ConfigError(f"web.listen: {value!r} is not HOST:PORT", hint='e.g. "127.0.0.1:8000"')
    if host == "localhost":
        host = "127.0.0.1"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"web.listen: {host!r} is not an IP address", hint='listen on an address such as "127.0.0.1:8000"'
        ) from None
    return host, int(port_s)


def _split(host: str) -> tuple[str, str | None]:
    """``name:port`` / ``[v6]:port`` / ``name`` -> (lower-case name, port or None)."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        return name, rest[1:] if rest.startswith(":") else None
    if host.count(":") == 1:
        name, _, port = host.partition(":")
        return name, port
    return host, None


class HostAllowList:
    """The ``Host`` header values the service answers."""

    def __init__(self, listen_host: str, allowed: Iterable[str]) -> None:
        self._any_port: set[str] = set(LOOPBACK_NAMES)
        self._exact: set[tuple[str, str]] = set()
        if listen_host not in ("0.0.0.0", "::"):
            self._any_port.add(listen_host.lower())
        for entry in allowed:
            name, port = _split(entry)
            if not name:
                raise ConfigError(f"web.allowed_hosts: {entry!r} is not a host name", hint='e.g. "nas.local:8000"')
            if port is None:
                self._any_port.add(name)
            else:
                self._exact.add((name, port))

    def allows(self, header: str | None) -> bool:
        """Whether a request with this ``Host`` header is answered (no header: refused)."""
        if not header:
            return False
        name, port = _split(header)
        return name in self._any_port or (port is not None and (name, port) in self._exact)
