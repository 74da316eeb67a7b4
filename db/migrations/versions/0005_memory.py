"""memory_entries: users' confirmed photos in the classifier's nearest-neighbour memory

Revision ID: 0005_memory
Revises: 0004_backups
Create Date: 2026-11-27 13:45:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

revision: str = "0005_memory"
down_revision: str | None = "0004_backups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memory_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("backbone", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("vector", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["users_predictions.id"],
            name=op.f("fk_memory_entries_prediction_id_users_predictions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_memory_entries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_entries")),
        sa.UniqueConstraint("prediction_id", name=op.f("uq_memory_entries_prediction_id")),
        sqlite_autoincrement=True,  # ids never reused: other processes follow them
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("memory_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memory_entries_backbone"), ["backbone"], unique=False)
        batch_op.create_index(batch_op.f("ix_memory_entries_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_table("memory_entries")  # its indexes go with it (MySQL keeps FK indexes until then)
