"""Models and migrations agree, and the migrations run down and up again."""

from __future__ import annotations

from lifegraph.migrate import check


def test_models_and_migrations_agree(database_url: str) -> None:
    check(database_url)
