"""Task reminders, the date of each user's last daily digest, and headers on mail.

Revision ID: b4e8c2d6f0a1
Revises: a7d3e5f91c20
Create Date: 2026-12-01 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b4e8c2d6f0a1"
down_revision: str | None = "a7d3e5f91c20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tasks", sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tasks", sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_tasks_reminder_due",
        "tasks",
        ["remind_at"],
        unique=False,
        postgresql_where=sa.text("remind_at IS NOT NULL AND reminded_at IS NULL"),
    )
    op.add_column("user_settings", sa.Column("last_digest_on", sa.Date(), nullable=True))
    op.add_column(
        "outgoing_mail",
        sa.Column(
            "headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("outgoing_mail", "headers")
    op.drop_column("user_settings", "last_digest_on")
    op.drop_index(
        "ix_tasks_reminder_due",
        table_name="tasks",
        postgresql_where=sa.text("remind_at IS NOT NULL AND reminded_at IS NULL"),
    )
    op.drop_column("tasks", "reminded_at")
    op.drop_column("tasks", "remind_at")
