"""UUIDv7 ids, UTC timestamps, the naming convention and model-wide rules."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from sqlalchemy import CheckConstraint, ColumnDefault, Enum, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import RelationshipProperty

from optin.db.base import UTCDateTime, uuid7, uuid7_datetime
from optin.db.models import Base

POSTGRES_MAX_IDENTIFIER = 63
SQLITE: Dialect = sqlite.dialect()
POSTGRES: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]


def test_uuid7_layout() -> None:
    value = uuid7()
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert abs(uuid7_datetime(value) - datetime.now(UTC)) < timedelta(seconds=2)


def test_uuid7_is_unique_and_time_ordered() -> None:
    values = [uuid7() for _ in range(20_000)]
    assert len(set(values)) == len(values)
    assert values == sorted(values)
    # The uuid type and the string form sort the same way, so the database index order agrees.
    assert [str(v) for v in values] == sorted(str(v) for v in values)


def test_uuid7_is_monotonic_when_the_clock_stands_still_or_goes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [time.time_ns()]
    monkeypatch.setattr("optin.db.base.time.time_ns", lambda: now[0])
    values = [uuid7() for _ in range(10_000)]  # more than 4096: overflows into the next ms
    now[0] -= 5_000_000_000  # the clock steps back five seconds
    values += [uuid7() for _ in range(100)]
    assert values == sorted(values)
    assert len(set(values)) == len(values)


def test_uuid7_datetime_rejects_other_versions() -> None:
    with pytest.raises(ValueError, match="version 7"):
        uuid7_datetime(uuid.uuid4())


@pytest.mark.parametrize("dialect", [SQLITE, POSTGRES])
def test_utc_datetime_refuses_naive_values(dialect: Dialect) -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2025, 1, 1), dialect)


def test_utc_datetime_converts_to_utc() -> None:
    tokyo = datetime(2025, 4, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    stored = UTCDateTime().process_bind_param(tokyo, POSTGRES)
    assert stored == datetime(2025, 4, 1, 0, 0, tzinfo=UTC)
    assert stored is not None
    assert stored.utcoffset() == timedelta(0)
    # SQLite stores text without an offset: always UTC, so text order is time order.
    assert UTCDateTime().process_bind_param(tokyo, SQLITE) == datetime(2025, 4, 1, 0, 0)


def test_utc_datetime_reads_back_aware_utc() -> None:
    loaded = UTCDateTime().process_result_value(datetime(2025, 4, 1, 0, 0), SQLITE)
    assert loaded == datetime(2025, 4, 1, tzinfo=UTC)
    assert loaded is not None
    assert loaded.tzinfo is UTC


def test_every_constraint_and_index_is_named_and_fits_postgres() -> None:
    for table in Base.metadata.tables.values():
        names = [constraint.name for constraint in table.constraints]
        names += [index.name for index in table.indexes]
        for name in names:
            assert isinstance(name, str), f"unnamed constraint on {table.name}"
            assert len(name) <= POSTGRES_MAX_IDENTIFIER, name
        assert len(names) == len(set(names)), table.name


def test_constraint_names_follow_the_convention() -> None:
    for table in Base.metadata.tables.values():
        assert table.primary_key.name == f"pk_{table.name}"
        for fk in table.foreign_key_constraints:
            assert fk.name == f"fk_{table.name}_{fk.column_keys[0]}_{fk.referred_table.name}"
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                assert str(constraint.name).startswith(f"ck_{table.name}_")


def test_enum_columns_are_checked_strings() -> None:
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, Enum):
                assert column.type.native_enum is False, f"{table.name}.{column.name}"
                assert column.type.create_constraint is True, f"{table.name}.{column.name}"


# Single-row tables with a fixed key: the audit chain's tip.
SINGLETON_TABLES = {"audit_head"}


def test_every_table_has_a_uuid7_primary_key() -> None:
    for mapper in Base.registry.mappers:
        table = cast(Table, mapper.local_table)
        if table.name in SINGLETON_TABLES:
            assert [column.name for column in table.primary_key.columns] == ["id"]
            continue
        assert [column.name for column in table.primary_key.columns] == ["id"], table.name
        default = table.c.id.default
        # SQLAlchemy wraps the callable but keeps its name.
        assert isinstance(default, ColumnDefault), table.name
        assert getattr(default.arg, "__name__", "") == "uuid7", table.name


def test_relationships_never_load_implicitly() -> None:
    for mapper in Base.registry.mappers:
        for relationship in mapper.relationships:
            assert isinstance(relationship, RelationshipProperty)
            assert relationship.lazy == "raise", f"{mapper.class_.__name__}.{relationship.key}"


def test_timestamps_are_timezone_aware_columns() -> None:
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if column.name.endswith("_at") or column.name.endswith("_until"):
                assert isinstance(column.type, UTCDateTime), f"{table.name}.{column.name}"
