"""models.activated_at: when a model last became the active one (the chart's promotions)

Revision ID: 0006_model_activation
Revises: 0005_memory
Create Date: 2026-11-27 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_model_activation"
down_revision: str | None = "0005_memory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("activated_at", sa.DateTime(), nullable=True))
    # the best known time for models promoted before: when they were recorded
    op.execute("UPDATE models SET activated_at = created_at WHERE status IN ('active', 'retired')")


def downgrade() -> None:
    with op.batch_alter_table("models") as batch:
        batch.drop_column("activated_at")
