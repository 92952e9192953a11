"""Failed sign-ins, to throttle password guessing.

Revision ID: ed4b8f2f7ade
Revises: ffc93d38a193
Create Date: 2026-11-22 00:01:49.453700
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ed4b8f2f7ade"
down_revision: str | None = "ffc93d38a193"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(
        "ix_sign_in_failures_email_at", "sign_in_failures", ["email", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sign_in_failures_email_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
