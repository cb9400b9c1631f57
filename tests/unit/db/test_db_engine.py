"""Database URLs and the SQLite connection setup."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from optin.config import sqlite_url
from optin.db.engine import create_engine, parse_url, redact_url, session_factory
from optin.errors import ConfigurationError


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite"),
        ("postgresql://u@h/db", "postgresql+asyncpg"),
        ("postgres://u@h/db", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver(given: str, driver: str) -> None:
    assert parse_url(given).drivername == driver


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("mysql://u:p@h/db", "unsupported database"),
        ("postgresql+psycopg2://u@h/db", "not async"),
        ("not a url", "not a valid"),
    ],
)
def test_unusable_urls_are_refused(given: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        parse_url(given)
    assert "p@h" not in str(caught.value)


def test_redact_url_hides_the_password() -> None:
    shown = redact_url("postgresql+asyncpg://optin:hunter2@db.internal:5432/optin")
    assert "hunter2" not in shown
    assert shown == "postgresql+asyncpg://optin:***@db.internal:5432/optin"
    assert redact_url("::::") == "<invalid database URL>"


async def test_sqlite_connections_are_configured(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "optin.db"
    engine = create_engine(sqlite_url(path))
    try:
        async with engine.connect() as connection:
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 10_000
        assert path.parent.is_dir()
        assert path.parent.stat().st_mode & 0o777 == 0o700
    finally:
        await engine.dispose()


async def test_sqlite_savepoints_and_rollback_work(tmp_path: Path) -> None:
    # Needs the explicit BEGIN from engine.py: Python's sqlite3 would autocommit the DDL.
    engine = create_engine(sqlite_url(tmp_path / "t.db"))
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        async with session_factory(engine)() as session:
            async with session.begin():
                await session.execute(text("INSERT INTO t VALUES (1)"))
                nested = await session.begin_nested()
                await session.execute(text("INSERT INTO t VALUES (2)"))
                await nested.rollback()
            assert (await session.execute(text("SELECT x FROM t"))).scalars().all() == [1]
        async with engine.connect() as connection:
            await connection.exec_driver_sql("CREATE TABLE u (x INTEGER)")
            await connection.rollback()
            tables = await connection.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
            assert [row[0] for row in tables] == ["t"]
    finally:
        await engine.dispose()
