"""Models and migrations agree, and the migrations run down and up again."""

from __future__ import annotations

import asyncio
import uuid

from alembic import command
from conftest import raw_connection

from lifegraph.migrate import alembic_config, check


def test_models_and_migrations_agree(database_url: str) -> None:
    check(database_url)


def test_migrations_go_down_and_up_again(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    check(database_url)


BEFORE_SYNC_OF_EVERYTHING = "c5a7e9b1d3f2"
USER = uuid.UUID(int=1)
RECORDS = """
INSERT INTO users (id, email, display_name) VALUES ('{user}', 'old@example.com', 'Old');
INSERT INTO projects (id, user_id, name, archived, position, version)
    VALUES ('{project}', '{user}', 'Home', false, 0, 3);
INSERT INTO habits (id, user_id, name, frequency, target_per_week, archived, position, version)
    VALUES ('{habit}', '{user}', 'Walk', 'DAILY', 7, false, 0, 1);
INSERT INTO habit_check_ins (habit_id, day) VALUES ('{habit}', '2026-11-30');
INSERT INTO purchases (id, user_id, merchant, amount, currency, purchased_at)
    VALUES ('{purchase}', '{user}', 'Market', 3, 'EUR', now());
INSERT INTO notes (id, user_id, title, content, tags, pinned, version)
    VALUES ('{note}', '{user}', 'Trip', '', '{{}}', false, 1);
INSERT INTO sync_changes (collection, record_id, user_id, version, deleted)
    VALUES ('NOTES', '{note}', '{user}', 1, false);
INSERT INTO note_images (id, note_id, object_key, content_type, size, sha256)
    VALUES ('{image}', '{note}', 'k', 'image/png', 10, 'x');
"""


async def _sync_log(database_url: str, statements: str | None = None) -> list[tuple[str, int]]:
    async with raw_connection(database_url) as connection:
        if statements:
            await connection.execute(statements)
        rows = await connection.fetch(
            "SELECT collection::text, version FROM sync_changes WHERE user_id = $1 ORDER BY 1",
            USER,
        )
        return [(row[0], row[1]) for row in rows]


def test_existing_records_enter_the_sync_log_of_the_new_collections(database_url: str) -> None:
    """Clients holding a cursor pull the projects, check-ins and purchases made before
    these collections were synced, and the notes whose images they now list."""
    config = alembic_config(database_url)
    command.downgrade(config, BEFORE_SYNC_OF_EVERYTHING)
    ids = {name: uuid.uuid4() for name in ("project", "habit", "purchase", "note", "image")}
    try:
        before = asyncio.run(_sync_log(database_url, RECORDS.format(user=USER, **ids)))
        assert before == [("NOTES", 1)]
        command.upgrade(config, "head")
        assert sorted(asyncio.run(_sync_log(database_url))) == [
            ("CHECK_INS", 1),
            ("NOTES", 2),
            ("PROJECTS", 3),
            ("PURCHASES", 1),
        ]
    finally:
        command.upgrade(config, "head")
        asyncio.run(_sync_log(database_url, f"DELETE FROM users WHERE id = '{USER}'"))
