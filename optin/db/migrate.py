"""Run alembic migrations from code: ``upgrade``, ``downgrade``, ``current_revision``.

The product never reads ``alembic.ini``: the Config is built here, the URL is passed to
``migrations/env.py`` through ``Config.attributes`` (so a password containing ``%`` survives
configparser), and env.py drives the async engine with ``asyncio.run``. Every entry point runs
alembic in a fresh worker thread, so these synchronous functions work from plain code, from a
thread, and from a coroutine (which they block; prefer ``await asyncio.to_thread(upgrade, url)``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from optin.db.base import UTCDateTime
from optin.db.engine import create_engine
from optin.db.models import Base
from optin.errors import ConfigurationError

T = TypeVar("T")

# migrations/ sits at the repository root, next to the optin package.
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

# alembic installs its ``context`` proxy module-globally, so two migrations in one process must
# not overlap.
_alembic_lock = threading.Lock()


def alembic_config(database_url: str | None = None) -> Config:
    """An alembic Config for this project's migrations, built without an ini file."""
    if not (MIGRATIONS_DIR / "env.py").is_file():
        raise ConfigurationError(f"migrations folder not found at {MIGRATIONS_DIR}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if database_url is not None:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database at ``database_url`` to ``revision`` (default: the newest)."""
    config = alembic_config(database_url)
    _in_worker_thread(lambda: command.upgrade(config, revision))


def downgrade(database_url: str, revision: str) -> None:
    """Downgrade the database to ``revision`` (``"base"`` drops every table)."""
    config = alembic_config(database_url)
    _in_worker_thread(lambda: command.downgrade(config, revision))


def head_revision() -> str | None:
    """The newest revision in ``migrations/versions``."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None if it has never been migrated."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    return _run_on_connection(database_url, read)


def schema_diff(database_url: str) -> list[Any]:
    """What alembic autogenerate would change to make the database match the models.

    Empty when the migrations and the models agree; the migration tests assert that.
    """

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts=migration_options(connection.dialect.name)
        )
        return list(compare_metadata(context, Base.metadata))

    return _run_on_connection(database_url, diff)


def migration_options(dialect_name: str) -> dict[str, Any]:
    """``context.configure`` options shared by env.py and ``schema_diff``."""
    return {
        "target_metadata": Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "render_item": _render_item,
        # Our SQLite engine emits BEGIN itself (see engine.py), so DDL is transactional there
        # too: a failed upgrade leaves the database at the previous revision.
        "transactional_ddl": True,
    }


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    # Migrations must not import application types: render UTCDateTime as what it stores.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run_on_connection(database_url: str, fn: Callable[[Connection], T]) -> T:
    async def run() -> T:
        engine = create_engine(database_url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(fn)
        finally:
            await engine.dispose()

    return _in_worker_thread(lambda: asyncio.run(run()))


def _in_worker_thread(fn: Callable[[], T]) -> T:
    # A fresh thread has no running event loop, so env.py's asyncio.run works even when the
    # caller is inside one, and the caller's thread keeps its own event-loop state untouched.
    with _alembic_lock, ThreadPoolExecutor(1, thread_name_prefix="optin-migrate") as pool:
        return pool.submit(fn).result()
