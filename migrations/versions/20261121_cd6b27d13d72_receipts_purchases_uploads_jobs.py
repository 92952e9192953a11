"""Receipts, OCR results, purchases, pending uploads, object deletions and the job queue.

The job queue's schema is procrastinate's own (``procrastinate.schema``); it stays on
downgrade, since other applications' data may live in it.

Revision ID: cd6b27d13d72
Revises: e3f113ff6cf7
Create Date: 2026-11-21 22:20:18.243583
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql

revision: str = "cd6b27d13d72"
down_revision: str | None = "e3f113ff6cf7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "object_deletions",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_object_deletions")),
    )
    op.create_table(
        "ocr_results",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=30), nullable=False),
        sa.Column("merchant_name", sa.String(length=300), nullable=True),
        sa.Column("total", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("purchased_on", sa.Date(), nullable=True),
        sa.Column("items", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("raw_text", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("sha256", "engine", name=op.f("pk_ocr_results")),
    )
    op.create_table(
        "pending_uploads",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("declared_size", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_pending_uploads_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_pending_uploads")),
    )
    op.create_index(
        op.f("ix_pending_uploads_user_id"), "pending_uploads", ["user_id"], unique=False
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("PENDING", "PROCESSING", "PROCESSED", "FAILED", name="receipt_status"),
            nullable=False,
        ),
        sa.Column("object_key", sa.String(length=300), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("ocr_engine", sa.String(length=30), nullable=True),
        sa.Column("failure_reason", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_receipts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("object_key", name=op.f("uq_receipts_object_key")),
    )
    op.create_index("ix_receipts_sha256", "receipts", ["sha256"], unique=False)
    op.create_index(
        "ix_receipts_user_created", "receipts", ["user_id", "created_at", "id"], unique=False
    )
    op.create_table(
        "purchases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("receipt_id", sa.Uuid(), nullable=True),
        sa.Column("merchant", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("category", sa.String(length=60), nullable=True),
        sa.Column("purchased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("items_text", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('simple', merchant || ' ' || coalesce(note, '') || ' ' || items_text)",
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
            ["receipt_id"],
            ["receipts.id"],
            name=op.f("fk_purchases_receipt_id_receipts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_purchases_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchases")),
        sa.UniqueConstraint("receipt_id", name=op.f("uq_purchases_receipt_id")),
    )
    op.create_index(
        "ix_purchases_search", "purchases", ["search_vector"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        "ix_purchases_user_amount", "purchases", ["user_id", "amount", "id"], unique=False
    )
    op.create_index(
        "ix_purchases_user_category", "purchases", ["user_id", "category"], unique=False
    )
    op.create_index(
        "ix_purchases_user_created", "purchases", ["user_id", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_purchases_user_merchant", "purchases", ["user_id", "merchant", "id"], unique=False
    )
    op.create_index(
        "ix_purchases_user_purchased", "purchases", ["user_id", "purchased_at", "id"], unique=False
    )
    op.create_table(
        "purchase_items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("purchase_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("unit_price", sa.Numeric(precision=20, scale=4), nullable=True),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["purchases.id"],
            name=op.f("fk_purchase_items_purchase_id_purchases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_items")),
    )
    op.create_index(
        op.f("ix_purchase_items_purchase_id"), "purchase_items", ["purchase_id"], unique=False
    )
    op.execute(
        "UPDATE roles SET permissions = array_cat(permissions, "
        "ARRAY['receipts:manage', 'purchases:manage']::varchar[]) "
        "WHERE name IN ('admin', 'member')"
    )
    _apply_job_queue_schema()


def _apply_job_queue_schema() -> None:
    bind = op.get_bind()
    if bind.scalar(sa.text("SELECT to_regclass('procrastinate_jobs')")) is not None:
        return
    schema = SchemaManager.get_schema()
    # Many statements in one script: asyncpg runs those only outside a prepared statement.
    driver = bind.connection.dbapi_connection
    assert driver is not None
    driver.run_async(lambda connection: connection.execute(schema))


def downgrade() -> None:
    op.execute(
        "UPDATE roles SET permissions = array_remove(array_remove(permissions, "
        "'receipts:manage'), 'purchases:manage')"
    )
    op.drop_index(op.f("ix_purchase_items_purchase_id"), table_name="purchase_items")
    op.drop_table("purchase_items")
    op.drop_index("ix_purchases_user_purchased", table_name="purchases")
    op.drop_index("ix_purchases_user_merchant", table_name="purchases")
    op.drop_index("ix_purchases_user_created", table_name="purchases")
    op.drop_index("ix_purchases_user_category", table_name="purchases")
    op.drop_index("ix_purchases_user_amount", table_name="purchases")
    op.drop_index("ix_purchases_search", table_name="purchases", postgresql_using="gin")
    op.drop_table("purchases")
    op.drop_index("ix_receipts_user_created", table_name="receipts")
    op.drop_index("ix_receipts_sha256", table_name="receipts")
    op.drop_table("receipts")
    op.drop_index(op.f("ix_pending_uploads_user_id"), table_name="pending_uploads")
    op.drop_table("pending_uploads")
    op.drop_table("ocr_results")
    op.drop_table("object_deletions")
    sa.Enum(name="receipt_status").drop(op.get_bind())
