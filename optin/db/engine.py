"""Async engines and session factories for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from optin.errors import ConfigurationError

# How long a SQLite writer waits for another writer's lock before failing ("database is locked").
SQLITE_BUSY_TIMEOUT_MS = 10_000


# The async drivers this project ships with; a URL without a driver gets the one listed here.
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}


def parse_url(database_url: str) -> URL:
    """Parse and check a database URL; ``postgresql://`` and ``sqlite://`` get the async driver."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        # SQLAlchemy's message would echo the URL, password included.
        raise ConfigurationError("the database URL is not a valid SQLAlchemy URL") from None
    backend = "postgresql" if url.drivername == "postgres" else url.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise ConfigurationError(
            f"unsupported database {backend!r}: use sqlite+aiosqlite or postgresql+asyncpg"
        )
    if url.drivername in (backend, "postgres"):
        return url.set(drivername=ASYNC_DRIVERS[backend])
    if url.drivername != ASYNC_DRIVERS[backend]:
        raise ConfigurationError(
            f"database driver {url.drivername!r} is not async: use {ASYNC_DRIVERS[backend]}"
        )
    return url


def redact_url(database_url: str) -> str:
    """The URL with any password replaced by ``***``, safe to print or log."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory databases and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_engine(database_url: str, *, foreign_keys: bool = True, **kwargs: Any) -> AsyncEngine:
    """Create an async engine for ``database_url`` (``sqlite+aiosqlite`` or ``postgresql+asyncpg``).

    For SQLite: the parent directory is created (private to the service user), and every
    connection gets foreign keys, WAL and a busy timeout. ``foreign_keys=False`` is only for
    migrations, whose table rebuilds would otherwise cascade deletes through referencing rows.
    For PostgreSQL, connections are pinged when taken from the pool, so a restart of the database
    needs no restart of the app.
    Extra keyword arguments go to SQLAlchemy's ``create_async_engine``.
    """
    url = parse_url(database_url)
    if url.get_backend_name() != "sqlite":
        # A restart of PostgreSQL breaks every pooled connection; without a ping at checkout the
        # first request on each of them fails (a 500) before the pool notices.
        kwargs.setdefault("pool_pre_ping", True)
        return _create_async_engine(url, **kwargs)

    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = _create_async_engine(url, **kwargs)
    _configure_sqlite(engine, wal=path is not None, foreign_keys=foreign_keys)
    return engine


def _configure_sqlite(engine: AsyncEngine, *, wal: bool, foreign_keys: bool) -> None:
    # Python's sqlite3 module (3.11) begins transactions lazily, only before DML, so a SELECT
    # followed by an UPDATE is not one transaction and SAVEPOINTs misbehave. Take BEGIN over
    # ourselves, as the SQLAlchemy documentation recommends.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # PRAGMAs must run outside a transaction, hence here and not in "begin".
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                # Readers do not block the writer and vice versa; NORMAL is durable in WAL mode
                # except for the last transactions on power loss, never corrupting.
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_BEGIN_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_BEGIN_IMMEDIATE = "optin_begin_immediate"


async def begin_writing(session: AsyncSession) -> None:
    """Start the session's next transaction as a writer.

    On SQLite a transaction that reads and later writes fails at once ("database is locked") if
    another connection committed in between, busy timeout or not; ``BEGIN IMMEDIATE`` takes the
    write lock first, waiting for it instead. Call it before the first statement of a
    transaction that will write. A no-op on PostgreSQL and inside a transaction already begun.
    """
    if session.in_transaction():
        return
    await session.connection(execution_options={_BEGIN_IMMEDIATE: True})


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit, so services can return what they wrote
    without a lazy load (which async sessions cannot do implicitly)."""
    return async_sessionmaker(engine, expire_on_commit=False)
