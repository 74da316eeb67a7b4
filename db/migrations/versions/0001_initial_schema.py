"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 06:12:51.902461
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

TABLE_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("dataset_size", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_models")),
        sa.UniqueConstraint("version", name=op.f("uq_models_version")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_models_status"), ["status"], unique=False)

    op.create_table(
        "nomenclatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_code", sa.String(length=3), nullable=False),
        sa.Column("waste_category", sa.String(length=20), nullable=False),
        sa.Column("waste_container", sa.String(length=200), nullable=False),
        sa.Column("waste_container_en", sa.String(length=200), nullable=False),
        sa.Column("instruction_fr", sa.Text(), nullable=False),
        sa.Column("instruction_en", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nomenclatures")),
        sa.UniqueConstraint(
            "department_code",
            "waste_category",
            name=op.f("uq_nomenclatures_department_code_waste_category"),
        ),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "regions",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_regions")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "test_dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_dataset")),
        sa.UniqueConstraint("image_sha256", name=op.f("uq_test_dataset_image_sha256")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("test_dataset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_test_dataset_added_at"), ["added_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_test_dataset_label"), ["label"], unique=False)

    op.create_table(
        "training_dataset",
        sa.Column("subset", sa.String(length=5), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_dataset")),
        sa.UniqueConstraint("image_sha256", name=op.f("uq_training_dataset_image_sha256")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("training_dataset", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_training_dataset_added_at"), ["added_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_training_dataset_label"), ["label"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("consent_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_last_seen_at"), ["last_seen_at"], unique=False)

    op.create_table(
        "departments",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("region_code", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["regions.code"], name=op.f("fk_departments_region_code_regions")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_departments")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_departments_region_code"), ["region_code"], unique=False
        )

    op.create_table(
        "users_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("update_id", sa.BigInteger(), nullable=True),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("image_path", sa.String(length=255), nullable=True),
        sa.Column("predicted_class", sa.String(length=20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("top3", sa.JSON(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("department_code", sa.String(length=3), nullable=True),
        sa.Column("media_group", sa.String(length=64), nullable=True),
        sa.Column("corrected_class", sa.String(length=20), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("harvested_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_users_predictions_model_id_models")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_users_predictions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users_predictions")),
        sa.UniqueConstraint("update_id", name=op.f("uq_users_predictions_update_id")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("users_predictions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_users_predictions_confirmed_at_harvested_at"),
            ["confirmed_at", "harvested_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_users_predictions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_users_predictions_media_group"), ["media_group"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_users_predictions_image_sha256"), ["image_sha256"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_users_predictions_predicted_class"), ["predicted_class"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_users_predictions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_users_predictions_user_id_created_at"),
            ["user_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "users_departments",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("department_code", sa.String(length=3), nullable=False),
        sa.Column("chosen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_users_departments_department_code_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_users_departments_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "department_code", name=op.f("pk_users_departments")),
        **TABLE_OPTIONS,
    )


def downgrade() -> None:
    for table in (
        "users_departments",
        "users_predictions",
        "departments",
        "users",
        "training_dataset",
        "test_dataset",
        "regions",
        "nomenclatures",
        "models",
    ):
        op.drop_table(table)
