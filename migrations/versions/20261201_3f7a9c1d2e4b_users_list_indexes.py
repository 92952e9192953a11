"""The admin list of users pages in sign-up order and searches by trigrams.

The search's columns get finer statistics: with the default, a substring that matches a
handful of users is estimated at 1% of them, and the planner walks the sign-up order
index through every user to fill a page instead of reading the trigram indexes.

Revision ID: 3f7a9c1d2e4b
Revises: 8c2d4e6f1a3b
Create Date: 2026-12-01 12:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "3f7a9c1d2e4b"
down_revision: str | None = "8c2d4e6f1a3b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A trusted extension: the database's owner may create it without being a superuser.
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index("ix_users_created", "users", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_users_email_trgm",
        "users",
        ["email"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"email": "gin_trgm_ops"},
    )
    op.create_index(
        "ix_users_display_name_trgm",
        "users",
        ["display_name"],
        unique=False,
        postgresql_using="gin",
        postgresql_ops={"display_name": "gin_trgm_ops"},
    )
    op.execute(
        "ALTER TABLE users ALTER COLUMN email SET STATISTICS 1000, "
        "ALTER COLUMN display_name SET STATISTICS 1000"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE users ALTER COLUMN email SET STATISTICS -1, "
        "ALTER COLUMN display_name SET STATISTICS -1"
    )
    op.drop_index("ix_users_display_name_trgm", table_name="users", postgresql_using="gin")
    op.drop_index("ix_users_email_trgm", table_name="users", postgresql_using="gin")
    op.drop_index("ix_users_created", table_name="users")
    op.execute("DROP EXTENSION IF EXISTS pg_trgm")
