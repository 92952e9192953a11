"""Alembic, driven from Python: ``lifegraph migrate``, the server's start and the tests.

The configuration is built here rather than read from ``alembic.ini``, which stays at the
top of a checkout (for the ``alembic`` command) and is not part of an installed wheel. The
``migrations`` package is installed next to ``lifegraph``, in a checkout as in a wheel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Back to ``revision``: an id (or its start), ``-N`` steps, or ``base`` (empty)."""
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raises when the models and the migrations disagree."""
    command.check(alembic_config(database_url))


@dataclass(frozen=True)
class Migration:
    revision: str
    description: str
    applied: bool


@dataclass(frozen=True)
class Version:
    """Where the database stands: the revisions it is at (none before any migration)."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    history: tuple[Migration, ...]
    """Newest first."""

    @property
    def at_head(self) -> bool:
        return set(self.current) == set(self.heads)

    @property
    def pending(self) -> tuple[Migration, ...]:
        return tuple(migration for migration in self.history if not migration.applied)


def version(database_url: str) -> Version:
    """Reads the database's revision (Alembic's version table) and the migrations' history."""
    config = alembic_config(database_url)
    script = ScriptDirectory.from_config(config)
    current = _current(config, script)
    applied = {found.revision for found in script.revision_map.iterate_revisions(current, "base")}
    history = tuple(
        Migration(found.revision, found.doc, found.revision in applied)
        for found in script.walk_revisions()
    )
    return Version(current, tuple(script.get_heads()), history)


def _current(config: Config, script: ScriptDirectory) -> tuple[str, ...]:
    found: list[str] = []

    def read(revision: Any, context: MigrationContext) -> list[Any]:
        found.extend(context.get_current_heads())
        return []

    with EnvironmentContext(config, script, fn=read, dont_mutate=True):
        script.run_env()
    return tuple(found)
