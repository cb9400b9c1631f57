"""Fixtures shared by the whole suite.

Databases:
- ``database_url`` — a fresh database at the newest migration, yours alone for the test (commit,
  run concurrent sessions, anything). Parametrised over ``sqlite`` and ``postgres``, so a test
  that asks for it runs on both; the postgres case carries the ``postgres`` marker
  (``-m "not postgres"`` skips it). Cheap: a copy of a template migrated once per session.
  To run a test on one backend only:
  ``@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)``.
- ``empty_database_url`` — the same, but with no tables (for migration tests).
- ``db_engine`` / ``db_session`` — an AsyncEngine / AsyncSession on ``database_url``.
- ``postgres_server`` — the throwaway server (see tests/support/postgres.py), started on first use
  and stopped at the end of the session; ``.create_database()`` makes more databases.
- ``postgres_url`` — an empty database on that server for this session, to use as you like.

Each pytest-xdist worker is its own session and starts its own server, so workers never share a
database. ``OPTIN_TEST_POSTGRES_URL`` uses an existing server instead (its user needs CREATEDB).
Without PostgreSQL binaries the postgres cases skip, or fail when ``CI`` is set.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from optin.config import sqlite_url

from support.postgres import PostgresBinariesNotFoundError, PostgresServer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

# SQLAlchemy and alembic are imported inside the fixtures, so test runs that need no database
# do not pay for them.

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _suffix() -> str:
    # Unique per run, so an external server with leftovers of a crashed run still works.
    return uuid.uuid4().hex[:8]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    external = os.environ.get("OPTIN_TEST_POSTGRES_URL")
    if external:
        server = PostgresServer.external(external)
    else:
        try:
            server = PostgresServer.start()
        except PostgresBinariesNotFoundError as exc:
            if _in_ci():
                pytest.fail(f"PostgreSQL is required in CI: {exc}", pytrace=False)
            pytest.skip(f"PostgreSQL tests need the server binaries: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database(f"optin_session_{_worker()}_{_suffix()}")


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from optin.db.migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def _postgres_template(postgres_server: PostgresServer) -> str:
    from optin.db.migrate import upgrade

    name = f"optin_template_{_worker()}_{_suffix()}"
    upgrade(postgres_server.create_database(name))
    return name


@pytest.fixture(params=BACKENDS)
def db_backend(request: pytest.FixtureRequest) -> str:
    """The database backend of this test case: ``sqlite`` or ``postgres``."""
    return str(request.param)


@pytest.fixture
def database_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if db_backend == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "optin.db"
        # The backup API copies a consistent image even if the template has a WAL file.
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as target:
            source.backup(target)
        yield sqlite_url(path)
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name: str = request.getfixturevalue("_postgres_template")
    url = server.create_database(template=name)
    yield url
    server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
def empty_database_url(
    db_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    if db_backend == "sqlite":
        yield sqlite_url(tmp_path / "empty.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture
async def db_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    from optin.db.engine import create_engine

    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def db_session(db_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    from optin.db.engine import session_factory

    async with session_factory(db_engine)() as session:
        yield session
