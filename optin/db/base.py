"""Declarative base, naming convention, UUIDv7 ids and UTC timestamps shared by every model.

Constraint names come from one convention so that migrations name them the same way on SQLite
and PostgreSQL, and a later migration can drop a constraint by a name it can predict.
"""

from __future__ import annotations

import enum
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Short prefixes keep names under PostgreSQL's 63-character identifier limit (a test checks).
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# --- UUIDv7 (RFC 9562) -------------------------------------------------------------------------
# Layout: 48-bit unix time in ms | version 7 | 12-bit counter | variant 0b10 | 62 random bits.
# The 12-bit field is a counter seeded randomly each millisecond (RFC 9562 method 1), so ids made
# by one process are strictly increasing even within a millisecond or if the clock steps back.

_COUNTER_MAX = 0xFFF
_uuid7_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """Return a new time-ordered UUID version 7."""
    global _last_ms, _counter
    with _uuid7_lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            _last_ms = now_ms
            # Seed in the lower half so there is room to count up within this millisecond.
            _counter = secrets.randbits(11)
        else:
            # Same millisecond, or the clock went backwards: stay on the last timestamp.
            _counter += 1
            if _counter > _COUNTER_MAX:
                # 4096 ids in one millisecond: borrow the next millisecond rather than repeat.
                _last_ms += 1
                _counter = secrets.randbits(11)
        ms, counter = _last_ms, _counter
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | counter << 64
        | 0b10 << 62
        | secrets.randbits(62)
    )
    return uuid.UUID(int=value)


def uuid7_datetime(value: uuid.UUID) -> datetime:
    """The creation time encoded in a UUIDv7 (millisecond precision, UTC)."""
    if value.version != 7:
        raise ValueError(f"{value} is not a UUID version 7")
    return datetime.fromtimestamp((value.int >> 80) / 1000, tz=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- Types -------------------------------------------------------------------------------------


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite has no time zone type and hands back naive values; PostgreSQL stores ``timestamptz``.
    Naive datetimes are refused on write because their meaning depends on the server's clock
    settings, which is exactly the ambiguity retention deadlines cannot afford.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: pass a timezone-aware datetime (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # Stored as text; one fixed offset keeps string comparison equal to time order.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(enum_class: type[enum.StrEnum], name: str) -> Enum:
    """A string enum stored as VARCHAR plus a CHECK constraint, the same on SQLite and PostgreSQL.

    Native PostgreSQL enums would need their own migrations to add a value; a CHECK constraint is
    replaced like any other. ``name`` becomes the constraint name (``ck_<table>_<name>``).
    """
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


# --- Base and mixins ---------------------------------------------------------------------------


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {  # noqa: RUF012 - SQLAlchemy reads it as a class attr
        uuid.UUID: Uuid(as_uuid=True),
        datetime: UTCDateTime(),
    }


class UUIDPrimaryKey:
    """A UUIDv7 primary key: unguessable, yet time-ordered so inserts stay index-friendly."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7, sort_order=-100)


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, sort_order=100)


class Timestamps(CreatedAt):
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, sort_order=101)
