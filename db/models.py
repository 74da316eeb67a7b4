"""SQLAlchemy models: the schema Alembic migrates on SQLite and MySQL/MariaDB alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NATIONAL = "*"
"""``department_code`` of the national default nomenclature rows."""

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Naive UTC now: both engines store DATETIME without a zone."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for migrations."""

    metadata = MetaData(naming_convention=NAMING)


def table(model: type[Base]) -> Table:
    """The ``Table`` of a mapped class (typed, unlike ``__table__``)."""
    return Base.metadata.tables[model.__tablename__]


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str | None] = mapped_column(String(8))
    consent_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class UserDepartment(Base):
    """Each département a user chose; the latest ``chosen_at`` is the current one."""

    __tablename__ = "users_departments"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), primary_key=True)
    chosen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Nomenclature(Base):
    """Where a class of waste goes in a département (``*`` = national default)."""

    __tablename__ = "nomenclatures"
    __table_args__ = (UniqueConstraint("department_code", "waste_category"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_code: Mapped[str] = mapped_column(String(3))
    waste_category: Mapped[str] = mapped_column(String(20))
    waste_container: Mapped[str] = mapped_column(String(200))
    waste_container_en: Mapped[str] = mapped_column(String(200))
    instruction_fr: Mapped[str] = mapped_column(Text)
    instruction_en: Mapped[str] = mapped_column(Text)


class Model(Base):
    """A trained classifier; one row is ``active`` at a time."""

    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    dataset_size: Mapped[int] = mapped_column(Integer, default=0)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="candidate", index=True)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    """When it last became the active model (promotion, rollback, first record)."""


class UserPrediction(Base):
    __tablename__ = "users_predictions"
    __table_args__ = (
        Index(None, "user_id", "created_at"),
        Index(None, "confirmed_at", "harvested_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    update_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    image_sha256: Mapped[str] = mapped_column(String(64), index=True)
    image_path: Mapped[str | None] = mapped_column(String(255))
    predicted_class: Mapped[str] = mapped_column(String(20), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    top3: Mapped[list[Any]] = mapped_column(JSON, default=list)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"))
    model_version: Mapped[str] = mapped_column(String(64))
    department_code: Mapped[str | None] = mapped_column(String(3))
    media_group: Mapped[str | None] = mapped_column(String(64), index=True)
    corrected_class: Mapped[str | None] = mapped_column(String(20))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    harvested_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class MemoryEntry(Base):
    """A confirmed photo of a consenting user in the classifier's nearest-neighbour memory:
    its backbone embedding (float16, base64), the label the user gave and the backbone that
    computed it. Deleted with its prediction (/oublier, retention purge)."""

    __tablename__ = "memory_entries"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012
    """Ids are never reused: other processes follow the table by them."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prediction_id: Mapped[int] = mapped_column(
        ForeignKey("users_predictions.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    backbone: Mapped[str] = mapped_column(String(16), index=True)
    label: Mapped[str] = mapped_column(String(20))
    vector: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class _DatasetRow:
    """Columns shared by the training and test dataset tables."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    image_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(20), index=True)
    source: Mapped[str] = mapped_column(String(8), default="base")
    added_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class TrainingSample(_DatasetRow, Base):
    """Images the model trains (``train``) or validates (``val``) on."""

    __tablename__ = "training_dataset"

    subset: Mapped[str] = mapped_column(String(5), default="train")


class HeldOutSample(_DatasetRow, Base):
    """The fixed test subset: never trained on, used to compare models."""

    __tablename__ = "test_dataset"


class Erasure(Base):
    """A user erased (/oublier, inactivity): a keyed hash of their id, never the id itself,
    so that restoring an older backup erases them again (see :mod:`db.erasures`)."""

    __tablename__ = "erasures"

    user_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Backup(Base):
    """A database backup file the scheduler wrote and still keeps. The files live in a volume
    only the scheduler mounts: this row is how the bot's ``/stats`` knows about them."""

    __tablename__ = "backups"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    written_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    size: Mapped[int] = mapped_column(BigInteger)


class Item(Base):
    """An object people search for by name (ADEME's list, or one an operator added)."""

    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(20))
    """One of the 13 classes when its container applies, else None (pharmacy, take-back…)."""
    what_fr: Mapped[str] = mapped_column(Text)
    good_fr: Mapped[str] = mapped_column(Text)
    bad_fr: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="ademe")
    """``ademe`` rows are kept in line with ``db/data/items.json`` by ``dumpin db seed``; any
    other value (an operator's ``local``) is left alone."""
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ItemName(Base):
    """A name an item is searched by, in French or English."""

    __tablename__ = "item_names"
    __table_args__ = (UniqueConstraint("item_id", "language", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(255))


class ItemSearch(Base):
    """How often an item's card was shown for a search (no user, no query text)."""

    __tablename__ = "item_searches"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class SearchCount(Base):
    """Search counters for ``/stats``: ``searches`` and ``unmatched`` (no user, no text)."""

    __tablename__ = "search_counts"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
