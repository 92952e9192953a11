"""Habits with check-ins, tasks, notes with images, and the sync change log.

Revision ID: ffc93d38a193
Revises: cd6b27d13d72
Create Date: 2026-11-21 22:52:19.901979
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ffc93d38a193"
down_revision: str | None = "cd6b27d13d72"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "habits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("color", sa.String(length=7), nullable=True),
        sa.Column("frequency", sa.Enum("DAILY", "WEEKLY", name="habit_frequency"), nullable=False),
        sa.Column("target_per_week", sa.Integer(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_habits_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_habits")),
    )
    op.create_index("ix_habits_user_position", "habits", ["user_id", "position"], unique=False)
    op.create_index(
        "uq_habits_active_name",
        "habits",
        ["user_id", sa.literal_column("lower(name)")],
        unique=True,
        postgresql_where=sa.text("NOT archived"),
    )
    op.create_table(
        "notes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "setweight(to_tsvector('simple', title), 'A') || setweight(to_tsvector('simple', content), 'B')",
                persisted=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notes")),
    )
    op.create_index(
        "ix_notes_search", "notes", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_notes_tags", "notes", ["tags"], unique=False, postgresql_using="gin")
    op.create_index("ix_notes_user_updated", "notes", ["user_id", "updated_at", "id"], unique=False)
    op.create_table(
        "sync_changes",
        sa.Column(
            "collection",
            sa.Enum("NOTES", "TASKS", "HABITS", name="sync_collection"),
            nullable=False,
        ),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("(pg_current_xact_id()::text)::bigint"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sync_changes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("collection", "record_id", name=op.f("pk_sync_changes")),
    )
    op.create_index(
        "ix_sync_changes_user_position",
        "sync_changes",
        ["user_id", "txid", "collection", "record_id"],
        unique=False,
    )
    op.create_table(
        "sync_pushes",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("mutation_id", sa.BigInteger(), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_sync_pushes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "client_id", "mutation_id", name=op.f("pk_sync_pushes")),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "status", sa.Enum("TODO", "IN_PROGRESS", "DONE", name="task_status"), nullable=False
        ),
        sa.Column(
            "priority",
            sa.Enum("LOW", "MEDIUM", "HIGH", "URGENT", name="task_priority"),
            nullable=False,
        ),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "due_key",
            sa.DateTime(timezone=True),
            sa.Computed("coalesce(due_at, '9999-12-31 00:00:00+00'::timestamptz)", persisted=True),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tags", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('simple', title || ' ' || coalesce(description, ''))", persisted=True
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tasks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    op.create_index(
        "ix_tasks_search", "tasks", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_index("ix_tasks_tags", "tasks", ["tags"], unique=False, postgresql_using="gin")
    op.create_index(
        "ix_tasks_user_due", "tasks", ["user_id", "due_key", "created_at", "id"], unique=False
    )
    op.create_table(
        "habit_check_ins",
        sa.Column("habit_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["habit_id"],
            ["habits.id"],
            name=op.f("fk_habit_check_ins_habit_id_habits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("habit_id", "day", name=op.f("pk_habit_check_ins")),
    )
    op.create_table(
        "note_images",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("note_id", sa.Uuid(), nullable=False),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["note_id"], ["notes.id"], name=op.f("fk_note_images_note_id_notes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_images")),
        sa.UniqueConstraint("object_key", name=op.f("uq_note_images_object_key")),
    )
    op.create_index(op.f("ix_note_images_note_id"), "note_images", ["note_id"], unique=False)
    op.execute(
        "UPDATE roles SET permissions = array_cat(permissions, "
        "ARRAY['habits:manage', 'tasks:manage', 'notes:manage']::varchar[]) "
        "WHERE name IN ('admin', 'member')"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE roles SET permissions = array_remove(array_remove(array_remove(permissions, "
        "'habits:manage'), 'tasks:manage'), 'notes:manage')"
    )
    op.drop_index(op.f("ix_note_images_note_id"), table_name="note_images")
    op.drop_table("note_images")
    op.drop_table("habit_check_ins")
    op.drop_index("ix_tasks_user_due", table_name="tasks")
    op.drop_index("ix_tasks_tags", table_name="tasks", postgresql_using="gin")
    op.drop_index("ix_tasks_search", table_name="tasks", postgresql_using="gin")
    op.drop_table("tasks")
    op.drop_table("sync_pushes")
    op.drop_index("ix_sync_changes_user_position", table_name="sync_changes")
    op.drop_table("sync_changes")
    op.drop_index("ix_notes_user_updated", table_name="notes")
    op.drop_index("ix_notes_tags", table_name="notes", postgresql_using="gin")
    op.drop_index("ix_notes_search", table_name="notes", postgresql_using="gin")
    op.drop_table("notes")
    op.drop_index(
        "uq_habits_active_name", table_name="habits", postgresql_where=sa.text("NOT archived")
    )
    op.drop_index("ix_habits_user_position", table_name="habits")
    op.drop_table("habits")
    for name in ("habit_frequency", "sync_collection", "task_status", "task_priority"):
        sa.Enum(name=name).drop(op.get_bind())
