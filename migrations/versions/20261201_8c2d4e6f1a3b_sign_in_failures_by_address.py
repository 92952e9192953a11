"""Password checks are throttled per email and client address.

Revision ID: 8c2d4e6f1a3b
Revises: 5b1f0c3e9a27
Create Date: 2026-12-01 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c2d4e6f1a3b"
down_revision: str | None = "5b1f0c3e9a27"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sign_in_failures",
        sa.Column("address", sa.String(length=64), server_default="", nullable=False),
    )


def downgrade() -> None:
    op.drop_column("sign_in_failures", "address")
