"""item search: objects, their names, and anonymous search counters

Revision ID: 0002_search
Revises: 0001
Create Date: 2026-11-27 10:30:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


revision: str = "0002_search"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=True),
        sa.Column("what_fr", sa.Text(), nullable=False),
        sa.Column("good_fr", sa.Text(), nullable=False),
        sa.Column("bad_fr", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("key", name=op.f("uq_items_key")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "search_counts",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_search_counts")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "item_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_names_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_names")),
        sa.UniqueConstraint(
            "item_id", "language", "name", name=op.f("uq_item_names_item_id_language_name")
        ),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("item_names", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_names_item_id"), ["item_id"], unique=False)

    op.create_table(
        "item_searches",
        sa.Column("item_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_item_searches_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_item_searches")),
        **TABLE_OPTIONS,
    )


def downgrade() -> None:
    for table in ("item_searches", "item_names", "search_counts", "items"):
        op.drop_table(table)
