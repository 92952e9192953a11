"""Data exports: a zip file of an account's records and images, built by a job.

A partial unique index keeps one export per user waiting or being built; another finds
the READY exports past their time.

Revision ID: 6d3e8b2a4c91
Revises: a1c3e5f7b9d2
Create Date: 2026-12-01 15:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6d3e8b2a4c91"
down_revision: str | None = "a1c3e5f7b9d2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE = sa.text("status IN ('PENDING', 'RUNNING')")
READY = sa.text("status = 'READY'")


def upgrade() -> None:
    op.create_table(
        "data_exports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("PENDING", "RUNNING", "READY", "FAILED", "EXPIRED", name="export_status"),
            nullable=False,
        ),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_data_exports_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_exports")),
        sa.UniqueConstraint("object_key", name=op.f("uq_data_exports_object_key")),
    )
    op.create_index("ix_data_exports_user_id", "data_exports", ["user_id"], unique=False)
    op.create_index(
        "uq_data_exports_active_user",
        "data_exports",
        ["user_id"],
        unique=True,
        postgresql_where=ACTIVE,
    )
    op.create_index(
        "ix_data_exports_ready_expires",
        "data_exports",
        ["expires_at"],
        unique=False,
        postgresql_where=READY,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_data_exports_ready_expires", table_name="data_exports", postgresql_where=READY
    )
    op.drop_index("uq_data_exports_active_user", table_name="data_exports", postgresql_where=ACTIVE)
    op.drop_index("ix_data_exports_user_id", table_name="data_exports")
    op.drop_table("data_exports")
    sa.Enum(name="export_status").drop(op.get_bind())
