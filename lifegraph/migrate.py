"""Alembic, driven from Python: ``lifegraph migrate``, the server's start and the tests.

The configuration is built here rather than read from ``alembic.ini``, which stays at the
top of a checkout (for the ``alembic`` command) and is not part of an installed wheel. The
``migrations`` package is installed next to ``lifegraph``, in a checkout as in a wheel.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Raises when the models and the migrations disagree."""
    command.check(alembic_config(database_url))
