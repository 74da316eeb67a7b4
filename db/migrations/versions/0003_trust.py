"""erasures: keyed hashes of erased users, re-applied after every restore

Revision ID: 0003_trust
Revises: 0002_search
Create Date: 2026-11-27 10:30:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}

revision: str = "0003_trust"
down_revision: str | None = "0002_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("user_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_hash", name=op.f("pk_erasures")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasures_erased_at"), ["erased_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erasures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasures_erased_at"))
    op.drop_table("erasures")
