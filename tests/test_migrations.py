"""Models and migrations agree, and the migrations run down and up again."""

from __future__ import annotations

from alembic import command

from lifegraph.migrate import alembic_config, check


def test_models_and_migrations_agree(database_url: str) -> None:
    check(database_url)


def test_migrations_go_down_and_up_again(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    check(database_url)
