"""alembic environment: async engine, URL from the Config, options shared with optin.db.migrate.

The URL comes from ``config.attributes["database_url"]`` (set by ``optin.db.migrate``), else
``sqlalchemy.url`` if a caller set one, else the service's own settings (``OPTIN_DATABASE_URL``
or the default SQLite file) — never from a URL written in an ini file. A caller may also pass an
open synchronous connection as ``config.attributes["connection"]``; it then owns the transaction.
"""

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url

from optin.config import Settings
from optin.db.engine import create_engine
from optin.db.migrate import migration_options

config = context.config

# Only the alembic command line configures logging; the product keeps its own.
if config.config_file_name is not None:
    fileConfig(config.config_file_name)


def database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    return url or Settings.from_env().database_url


def run_migrations_offline() -> None:
    url = database_url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **migration_options(make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **migration_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            # Foreign keys are off while migrating (table rebuilds would cascade); check them
            # before committing instead.
            violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if violations:
                raise RuntimeError(f"migration left foreign key violations: {violations[:5]}")


async def run_async_migrations() -> None:
    engine = create_engine(database_url(), foreign_keys=False, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            # A no-op when alembic already committed; makes sure nothing is rolled back on close.
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
