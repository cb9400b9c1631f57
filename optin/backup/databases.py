"""Copy a database into a backup file and back: SQLite's online backup API, or pg_dump/pg_restore.

SQLite: ``Connection.backup`` copies a consistent snapshot while the service keeps writing; the
copy is switched to a rollback journal so it is one self-contained file, and is read back with
``immutable=1`` so a restore never writes into the backup folder.

PostgreSQL: ``pg_dump --format=custom`` (one consistent snapshot, online). A restore moves the
current ``public`` schema aside, creates an empty one, runs ``pg_restore --single-transaction``
into it and drops the old schema only once that succeeded; on failure the old schema is put back.
The client binaries are found on PATH, else in the newest ``/usr/lib/postgresql/*/bin``; the
password reaches them in ``PGPASSWORD``, never on a command line others can read in ``ps``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import urllib.parse
from contextlib import closing
from pathlib import Path
from typing import Literal

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from optin.db.engine import create_engine, parse_url, sqlite_path
from optin.errors import ConfigurationError, OptinError

Backend = Literal["sqlite", "postgresql"]

SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.pgdump"
_PG_TIMEOUT_S = 3600


class BackupFailed(OptinError):
    code = "backup-failed"
    title = "Backup or restore failed"
    status = 500


def backend_of(database_url: str) -> Backend:
    return "sqlite" if parse_url(database_url).get_backend_name() == "sqlite" else "postgresql"


def database_file_name(backend: Backend) -> str:
    return SQLITE_FILE if backend == "sqlite" else POSTGRES_FILE


# --- SQLite --------------------------------------------------------------------------------------


def _sqlite_file(database_url: str) -> Path:
    path = sqlite_path(parse_url(database_url))
    if path is None:
        raise ConfigurationError("an in-memory SQLite database cannot be backed up or restored")
    return path


def sqlite_backup(database_url: str, target: Path) -> None:
    source = _sqlite_file(database_url)
    if not source.is_file():
        raise BackupFailed(f"there is no database at {source}")
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        # One self-contained file: no -wal beside it, whatever mode the live database uses.
        dst.execute("PRAGMA journal_mode = DELETE")


def _read_only(path: Path) -> sqlite3.Connection:
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True)


def sqlite_revision(backup_file: Path) -> str | None:
    with closing(_read_only(backup_file)) as db:
        try:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            return None
    return None if row is None else str(row[0])


def sqlite_restore(backup_file: Path, database_url: str) -> None:
    target = _sqlite_file(database_url)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        with closing(_read_only(backup_file)) as src, closing(sqlite3.connect(target)) as dst:
            # Through SQLite, page by page in one transaction: the live file (and its WAL) stay
            # consistent, and a failure leaves the database as it was.
            src.backup(dst)
    except sqlite3.Error as exc:
        raise BackupFailed(f"restoring {target} failed: {exc}") from None
    target.chmod(0o600)


# --- PostgreSQL ----------------------------------------------------------------------------------


def pg_tool(name: str) -> Path:
    """pg_dump or pg_restore: on PATH, else the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = []
    for directory in Path("/usr/lib/postgresql").glob("*/bin"):
        if (directory / name).is_file():
            version = tuple(int(part) for part in re.findall(r"\d+", directory.parent.name))
            candidates.append((version, directory / name))
    if not candidates:
        raise ConfigurationError(
            f"{name} was not found (on PATH or in /usr/lib/postgresql/*/bin): install the "
            "PostgreSQL client of the server's major version, e.g. postgresql-client-15"
        )
    return max(candidates)[1]


def _libpq_env(url: URL) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    values = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password if isinstance(url.password, str) else None,
        "PGDATABASE": url.database,
    }
    ssl = url.query.get("sslmode") or url.query.get("ssl")
    if isinstance(ssl, str):
        values["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl.lower(), ssl)
    env.update({key: value for key, value in values.items() if value})
    return env


def _run_pg(name: str, arguments: list[str], url: URL) -> str:
    try:
        result = subprocess.run(  # noqa: S603 - a PostgreSQL client binary, fixed arguments
            [str(pg_tool(name)), *arguments],
            env=_libpq_env(url),
            capture_output=True,
            text=True,
            timeout=_PG_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupFailed(f"{name} could not run: {exc}") from None
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        raise BackupFailed(f"{name} failed: {' / '.join(lines[:3]) or f'exit {result.returncode}'}")
    return result.stdout


def pg_dump(database_url: str, target: Path) -> None:
    _run_pg(
        "pg_dump",
        ["--format=custom", "--no-owner", "--no-privileges", f"--file={target}"],
        parse_url(database_url),
    )


async def pg_other_connections(database_url: str) -> int:
    """Sessions on this database other than ours (a running app holds some)."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                )
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def _pg_execute(database_url: str, *statements: str) -> None:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def pg_restore(backup_file: Path, database_url: str) -> None:
    """Replace the database's ``public`` schema with the dump's (see the module docstring)."""
    import asyncio

    url = parse_url(database_url)
    aside = f"optin_before_restore_{secrets.token_hex(4)}"
    try:
        await _pg_execute(
            database_url, f'ALTER SCHEMA public RENAME TO "{aside}"', "CREATE SCHEMA public"
        )
    except SQLAlchemyError as exc:
        raise BackupFailed(
            f"could not set the current schema aside: {type(exc.__cause__ or exc).__name__}"
        ) from None
    try:
        await asyncio.to_thread(
            _run_pg,
            "pg_restore",
            [
                *("--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"),
                f"--dbname={url.database}",
                str(backup_file),
            ],
            url,
        )
    except BaseException:
        await _pg_execute(
            database_url, "DROP SCHEMA public CASCADE", f'ALTER SCHEMA "{aside}" RENAME TO public'
        )
        raise
    await _pg_execute(database_url, f'DROP SCHEMA "{aside}" CASCADE')
