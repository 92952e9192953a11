"""Habits on chosen weekdays and measurable habits, check-in values and skipped days,
and archived notes.

Revision ID: c5f1a9d3e7b2
Revises: c5f2a8d1e3b7
Create Date: 2026-12-01 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c5f1a9d3e7b2"
down_revision: str | None = "c5f2a8d1e3b7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "habits", sa.Column("days_of_week", postgresql.ARRAY(sa.SmallInteger()), nullable=True)
    )
    op.add_column("habits", sa.Column("target", sa.Numeric(12, 2), nullable=True))
    op.add_column("habits", sa.Column("unit", sa.String(length=30), nullable=True))
    op.add_column("habit_check_ins", sa.Column("value", sa.Numeric(12, 2), nullable=True))
    op.add_column(
        "habit_check_ins",
        sa.Column("skipped", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "notes", sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("notes", "archived")
    op.drop_column("habit_check_ins", "skipped")
    op.drop_column("habit_check_ins", "value")
    op.drop_column("habits", "unit")
    op.drop_column("habits", "target")
    op.drop_column("habits", "days_of_week")
