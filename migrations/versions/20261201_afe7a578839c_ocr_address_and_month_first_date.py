"""What OCR read keeps the shop's address and the month-first reading of an ambiguous date.

Both are nullable: readings cached before this revision have neither, and stay as read.

Revision ID: afe7a578839c
Revises: 8f9b911a1b72
Create Date: 2026-12-01 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "afe7a578839c"
down_revision: str | None = "8f9b911a1b72"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("ocr_results", sa.Column("address", sa.String(length=500), nullable=True))
    op.add_column("ocr_results", sa.Column("purchased_on_month_first", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("ocr_results", "purchased_on_month_first")
    op.drop_column("ocr_results", "address")
