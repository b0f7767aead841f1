"""A systemd unit file read as (section, key, value) entries (keys may repeat, unlike INI)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|sec|s|min|m|h|)")
_SECONDS = {"ms": 0.001, "": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Unit:
    entries: list[tuple[str, str, str]]

    @classmethod
    def read(cls, path: Path) -> Unit:
        entries: list[tuple[str, str, str]] = []
        section = ""
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f"{path}: not a key=value line: {raw!r}")
            entries.append((section, key.strip(), value.strip()))
        return cls(entries)

    def values(self, section: str, key: str) -> list[str]:
        return [v for s, k, v in self.entries if s == section and k == key]

    def get(self, section: str, key: str) -> str:
        """The last value of a key (systemd's rule for single-valued settings)."""
        found = self.values(section, key)
        if not found:
            raise KeyError(f"[{section}] {key}= is not set")
        return found[-1]

    def environment(self) -> dict[str, str]:
        env: dict[str, str] = {}
        for value in self.values("Service", "Environment"):
            for pair in value.split():
                name, _, val = pair.partition("=")
                env[name] = val
        return env


def seconds(text: str) -> float:
    """``30s``, ``1min 30s``, ``1m30s``, ``90`` (systemd and compose durations) in seconds."""
    total, pos, text = 0.0, 0, text.replace(" ", "")
    while pos < len(text):
        match = _DURATION.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"not a duration: {text!r}")
        total += float(match.group("n")) * _SECONDS[match.group("unit")]
        pos = match.end()
    return total
