"""Offline sync of projects, habit check-ins and purchases; notes pull their images.

Check-ins get an ID of their own and, like purchases, a version (both with server
defaults, so rows written without them, as bulk loads do, get them). Every existing project,
check-in and purchase is entered in the sync log, and every note with images is logged
again one version up, so that clients pull them from the cursor they hold.

Revision ID: 8f9b911a1b72
Revises: c5a7e9b1d3f2
Create Date: 2026-12-01 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8f9b911a1b72"
down_revision: str | None = "c5a7e9b1d3f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW_COLLECTIONS = ("PROJECTS", "CHECK_INS", "PURCHASES")


def upgrade() -> None:
    # A value added to an enum can be used only once the transaction adding it commits.
    with op.get_context().autocommit_block():
        for value in NEW_COLLECTIONS:
            op.execute(f"ALTER TYPE sync_collection ADD VALUE IF NOT EXISTS '{value}'")
    op.add_column(
        "habit_check_ins",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
    )
    op.create_unique_constraint("uq_habit_check_ins_id", "habit_check_ins", ["id"])
    for table in ("habit_check_ins", "purchases"):
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.execute(
        """INSERT INTO sync_changes (collection, record_id, user_id, version, deleted)
        SELECT 'PROJECTS'::sync_collection, id, user_id, version, false FROM projects
        UNION ALL
        SELECT 'CHECK_INS'::sync_collection, entry.id, habit.user_id, entry.version, false
        FROM habit_check_ins AS entry JOIN habits AS habit ON habit.id = entry.habit_id
        UNION ALL
        SELECT 'PURCHASES'::sync_collection, id, user_id, version, false FROM purchases
        ON CONFLICT DO NOTHING"""
    )
    op.execute(
        """UPDATE notes SET version = version + 1
        WHERE id IN (SELECT note_id FROM note_images)"""
    )
    op.execute(
        """UPDATE sync_changes AS change
        SET version = note.version, txid = (pg_current_xact_id()::text)::bigint,
            changed_at = now()
        FROM notes AS note
        WHERE change.collection = 'NOTES' AND change.record_id = note.id
        AND note.id IN (SELECT note_id FROM note_images)"""
    )


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value: the three stay in the type, unused.
    op.execute(
        "DELETE FROM sync_changes WHERE collection IN ('PROJECTS', 'CHECK_INS', 'PURCHASES')"
    )
    op.drop_column("purchases", "version")
    op.drop_column("habit_check_ins", "version")
    op.drop_constraint("uq_habit_check_ins_id", "habit_check_ins", type_="unique")
    op.drop_column("habit_check_ins", "id")
