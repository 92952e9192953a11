"""Sessions note the device holding them and when it last refreshed; users choose the hour
of a daily digest email (none by default).

A session started before this revision was last used when its newest refresh token was
issued.

Revision ID: 6a1d3e8b2c47
Revises: 6d3e8b2a4c91
Create Date: 2026-12-01 14:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6a1d3e8b2c47"
down_revision: str | None = "6d3e8b2a4c91"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "auth_sessions",
        sa.Column(
            "last_used_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
    )
    op.add_column("auth_sessions", sa.Column("user_agent", sa.String(length=500), nullable=True))
    op.add_column("auth_sessions", sa.Column("ip_address", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE auth_sessions SET last_used_at = coalesce("
        "(SELECT max(created_at) FROM refresh_tokens"
        " WHERE refresh_tokens.session_id = auth_sessions.id), auth_sessions.created_at)"
    )
    op.add_column("user_settings", sa.Column("daily_digest_hour", sa.SmallInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_user_settings_daily_digest_hour_range"),
        "user_settings",
        "daily_digest_hour BETWEEN 0 AND 23",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_user_settings_daily_digest_hour_range"), "user_settings", type_="check"
    )
    op.drop_column("user_settings", "daily_digest_hour")
    op.drop_column("auth_sessions", "ip_address")
    op.drop_column("auth_sessions", "user_agent")
    op.drop_column("auth_sessions", "last_used_at")
