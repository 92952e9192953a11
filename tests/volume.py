"""Bulk rows for query-cost tests: every list a user sees, filled in a few statements.

Rows are written with ``INSERT … SELECT … FROM generate_series``, so thousands cost well
under a second; the generated columns (search vectors, due keys) are computed by
PostgreSQL as for any insert. Values are derived from the row's number, so every run
stores the same data but for the random ids. Dates spread over a year, whatever the count.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, TextClause, Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import TypeEngine

MERCHANTS = "ARRAY['Corner Bakery', 'Fresh Market', 'City Books', 'Coffee House', 'Hardware']"
CATEGORIES = "ARRAY['groceries', 'books', 'coffee', 'home', NULL]"

PER_USER = [
    # Receipts and OCR results (read for the processed ones); every other one, the first
    # included, is linked to a purchase below.
    """
    INSERT INTO ocr_results (sha256, engine, merchant_name, total, currency, purchased_on,
                             items, confidence, raw_text)
    SELECT encode(sha256(convert_to(:label || ' ' || n, 'UTF8')), 'hex'), 'local',
           'Shop ' || n % 50, n % 100 + 0.99, 'EUR', DATE '2026-01-01' + n % 300,
           '[]'::jsonb, 0.9, 'Shop ' || n
    FROM generate_series(1, :rows) AS n
    """,
    """
    INSERT INTO receipts (id, user_id, status, object_key, original_name, content_type,
                          size, sha256, ocr_engine, attempts, created_at, processed_at)
    SELECT gen_random_uuid(), :user,
           (ARRAY['PROCESSED', 'PROCESSED', 'PROCESSED', 'PENDING', 'FAILED'])[n % 5 + 1]
               ::receipt_status,
           'receipts/' || :label || '/' || n, n || '.jpg', 'image/jpeg', 1000 + n,
           encode(sha256(convert_to(:label || ' ' || n, 'UTF8')), 'hex'),
           CASE WHEN n % 5 < 3 THEN 'local' END, 1,
           TIMESTAMPTZ '2026-11-01' - n * (INTERVAL '365 days' / :rows),
           TIMESTAMPTZ '2026-11-01' - n * (INTERVAL '365 days' / :rows) + INTERVAL '1 minute'
    FROM generate_series(1, :rows) AS n
    """,
    f"""
    INSERT INTO purchases (id, user_id, receipt_id, merchant, amount, currency, category,
                           purchased_at, note, items_text)
    SELECT gen_random_uuid(), :user,
           CASE WHEN n % 2 = 1 THEN (
               SELECT id FROM receipts WHERE object_key = 'receipts/' || :label || '/' || n
           ) END,
           ({MERCHANTS})[n % 5 + 1], n % 200 + 0.5, (ARRAY['EUR', 'EUR', 'USD'])[n % 3 + 1],
           ({CATEGORIES})[n % 5 + 1],
           TIMESTAMPTZ '2026-11-30' - n * (INTERVAL '365 days' / :rows),
           CASE WHEN n % 7 = 0 THEN 'note ' || n END, 'bread milk'
    FROM generate_series(1, :rows) AS n
    """,
    f"""
    INSERT INTO budgets (id, user_id, category, currency, amount)
    SELECT gen_random_uuid(), :user, ({CATEGORIES})[n], 'EUR', n * 100
    FROM generate_series(1, LEAST(:rows, 4)) AS n
    """,
    """
    INSERT INTO purchase_items (id, purchase_id, position, description, quantity,
                                unit_price, amount)
    SELECT gen_random_uuid(), p.id, i, (ARRAY['bread', 'milk'])[i + 1], 1, 0.25, 0.25
    FROM purchases AS p CROSS JOIN generate_series(0, 1) AS i
    WHERE p.user_id = :user
    """,
    """
    INSERT INTO tasks (id, user_id, title, description, status, priority, due_at,
                       completed_at, tags, version)
    SELECT gen_random_uuid(), :user, 'Task ' || n, 'Details of task ' || n,
           (ARRAY['TODO', 'IN_PROGRESS', 'DONE'])[n % 3 + 1]::task_status,
           (ARRAY['LOW', 'MEDIUM', 'HIGH', 'URGENT'])[n % 4 + 1]::task_priority,
           CASE WHEN n % 4 <> 0
               THEN TIMESTAMPTZ '2026-12-01' + (n - :rows / 2) * (INTERVAL '365 days' / :rows)
           END,
           CASE WHEN n % 3 = 2 THEN TIMESTAMPTZ '2026-11-01' END,
           ARRAY['tag' || n % 10, 'work']::varchar(50)[], 1
    FROM generate_series(1, :rows) AS n
    """,
    """
    INSERT INTO notes (id, user_id, title, content, tags, pinned, version, created_at,
                       updated_at)
    SELECT gen_random_uuid(), :user, 'Note ' || n, 'Some *content* about topic ' || n % 40,
           ARRAY['tag' || n % 10]::varchar(50)[], n % 25 = 0, 1,
           TIMESTAMPTZ '2026-11-01' - n * (INTERVAL '365 days' / :rows),
           TIMESTAMPTZ '2026-11-01' - n * (INTERVAL '365 days' / :rows)
    FROM generate_series(1, :rows) AS n
    """,
    """
    INSERT INTO note_images (id, note_id, object_key, content_type, size, sha256)
    SELECT gen_random_uuid(), id, 'notes/' || id || '/' || i, 'image/jpeg', 2000,
           encode(sha256(convert_to(id::text || i, 'UTF8')), 'hex')
    FROM notes CROSS JOIN generate_series(1, 2) AS i
    WHERE user_id = :user
    """,
    """
    INSERT INTO habits (id, user_id, name, description, color, frequency, target_per_week,
                        archived, position, version)
    SELECT gen_random_uuid(), :user, 'Habit ' || n, NULL, '#336699',
           (ARRAY['DAILY', 'WEEKLY'])[n % 2 + 1]::habit_frequency, 3, n % 6 = 0, n, 1
    FROM generate_series(1, :habits) AS n
    """,
    """
    INSERT INTO habit_check_ins (habit_id, day)
    SELECT h.id, DATE '2026-12-01' - d
    FROM habits AS h CROSS JOIN generate_series(0, :days - 1) AS d
    WHERE h.user_id = :user AND d % (h.position % 3 + 1) = 0
    """,
    """
    INSERT INTO sync_changes (collection, record_id, user_id, version, deleted)
    SELECT 'TASKS'::sync_collection, id, user_id, version, false FROM tasks WHERE user_id = :user
    UNION ALL
    SELECT 'NOTES', id, user_id, version, false FROM notes WHERE user_id = :user
    UNION ALL
    SELECT 'HABITS', id, user_id, version, false FROM habits WHERE user_id = :user
    """,
]

USERS = """
    WITH made AS (
        INSERT INTO users (id, email, password_hash, display_name, created_at)
        SELECT gen_random_uuid(), 'person' || n || '@' || :domain, NULL, 'Person ' || n,
               TIMESTAMPTZ '2026-01-01' + n * INTERVAL '17 minutes'
        FROM generate_series(1, :rows) AS n
        RETURNING id
    ), settings AS (
        INSERT INTO user_settings (user_id) SELECT id FROM made
    )
    INSERT INTO user_roles (user_id, role_id)
    SELECT made.id, roles.id FROM made CROSS JOIN roles WHERE roles.name = 'member'
"""


TYPES: dict[str, TypeEngine[Any]] = {
    "user": Uuid(),
    "label": String(),
    "domain": String(),
    "rows": Integer(),
    "habits": Integer(),
    "days": Integer(),
}


@dataclass(frozen=True)
class Volume:
    """How much each user owns: ``rows`` purchases, receipts, tasks and notes (with two
    items or images each), ``habits`` habits with check-ins over ``days`` days."""

    rows: int
    habits: int
    days: int


@contextlib.asynccontextmanager
async def bulk(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction to seed in, that returns once sync pulls can see what it wrote.

    A pull reads only changes of transactions older than the oldest one still running on
    the server (db/sync.py); on a server shared with other work that may be a while.
    """
    async with engine.begin() as connection:
        written = await connection.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
        yield connection
    oldest = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
    async with engine.connect() as connection:
        for _ in range(1200):
            if await connection.scalar(oldest) > written:
                return
            await connection.rollback()
            await asyncio.sleep(0.05)
    raise TimeoutError("a transaction older than the seeding one is still running")


async def seed(connection: AsyncConnection, users: Sequence[uuid.UUID], volume: Volume) -> None:
    """Fills every list of each of ``users`` (who exist already) to ``volume``."""
    for user in users:
        values = {
            "user": user,
            "label": str(user),
            "rows": volume.rows,
            "habits": volume.habits,
            "days": volume.days,
        }
        for statement in PER_USER:
            await connection.execute(_typed(statement), values)


async def seed_users(connection: AsyncConnection, rows: int, domain: str) -> None:
    """``rows`` members without a password, with settings, at ``@domain`` addresses."""
    await connection.execute(_typed(USERS), {"rows": rows, "domain": domain})


def _typed(statement: str) -> TextClause:
    """The statement with its parameters typed, so the driver sends each with a cast."""
    clause = text(statement)
    return clause.bindparams(
        *(bindparam(name, type_=TYPES[name]) for name in TYPES if f":{name}" in statement)
    )
