"""Versioned schema migrations: pure planning, shared by the SQLite and PostgreSQL sinks.

Each sink keeps a ``schema_migrations`` table (version, description, applied_at). At start it
reads the highest applied version and applies the missing steps in one transaction. A
database migrated by a newer candlewick (a version this code does not know) is refused with
:class:`~candlewick.errors.SchemaTooNew` instead of being written with assumptions that may
no longer hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from candlewick.errors import SchemaTooNew

__all__ = ["Migration", "latest", "plan"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: its version number, a one-line description, and SQL statements."""

    version: int
    description: str
    statements: tuple[str, ...]


def latest(migrations: Sequence[Migration]) -> int:
    """The schema version this code writes."""
    return max((m.version for m in migrations), default=0)


def plan(current: int, migrations: Sequence[Migration], *, database: str) -> list[Migration]:
    """The steps to apply to a database at version ``current``, in order.

    Raises :class:`SchemaTooNew` when ``current`` is past every known step.
    """
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)) or (versions and versions[0] < 1):
        raise ValueError(f"migration versions must be unique, ascending and >= 1, got {versions}")
    newest = latest(migrations)
    if current > newest:
        raise SchemaTooNew(
            f"{database} has schema version {current}, but this candlewick knows versions up to {newest}",
            hint="run the newer candlewick that migrated it, or point this one at another database",
        )
    return [m for m in migrations if m.version > current]
