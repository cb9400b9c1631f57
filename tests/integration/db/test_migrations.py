"""Migrations: ``upgrade head`` on SQLite and PostgreSQL, agreement with the models, the CLI."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import CheckConstraint, MetaData, inspect
from sqlalchemy.engine import Connection, make_url

from optin.cli import main as optin_cli
from optin.config import sqlite_url
from optin.db.engine import create_engine
from optin.db.migrate import current_revision, downgrade, head_revision, schema_diff, upgrade
from optin.db.models import Base
from optin.db.register import problems, schema_columns

from support.postgres import PostgresServer

REPO_ROOT = Path(__file__).resolve().parents[3]
MODEL_TABLES = set(Base.metadata.tables)


async def _reflect(url: str) -> MetaData:
    engine = create_engine(url)
    metadata = MetaData()
    try:
        async with engine.connect() as connection:
            await connection.run_sync(lambda sync: metadata.reflect(bind=sync))
    finally:
        await engine.dispose()
    return metadata


async def _check_constraint_names(url: str) -> dict[str, set[str]]:
    def read(connection: Connection) -> dict[str, set[str]]:
        inspector = inspect(connection)
        return {
            table: {str(ck["name"]) for ck in inspector.get_check_constraints(table)}
            for table in MODEL_TABLES
        }

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()


async def test_upgrade_head_creates_the_schema_the_models_describe(
    empty_database_url: str,
) -> None:
    assert current_revision(empty_database_url) is None
    await asyncio.to_thread(upgrade, empty_database_url)

    assert current_revision(empty_database_url) == head_revision()
    reflected = await _reflect(empty_database_url)
    assert set(reflected.tables) == MODEL_TABLES | {"alembic_version"}
    # The autogenerate diff between the migrated database and the models is empty.
    assert schema_diff(empty_database_url) == []


async def test_check_constraints_exist_under_the_models_names(database_url: str) -> None:
    # autogenerate does not compare CHECK constraints, so compare their names directly.
    expected = {
        table.name: {
            str(constraint.name)
            for constraint in table.constraints
            if isinstance(constraint, CheckConstraint)
        }
        for table in Base.metadata.tables.values()
    }
    assert await _check_constraint_names(database_url) == expected


async def test_migrated_database_matches_the_register(database_url: str) -> None:
    reflected = await _reflect(database_url)
    assert problems(schema_columns(reflected), infrastructure=True) == []


async def test_downgrade_to_base_and_upgrade_again(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    downgrade(empty_database_url, "base")
    assert current_revision(empty_database_url) is None
    assert set((await _reflect(empty_database_url)).tables) <= {"alembic_version"}

    upgrade(empty_database_url)
    upgrade(empty_database_url)  # already at head: a no-op
    assert current_revision(empty_database_url) == head_revision()
    assert schema_diff(empty_database_url) == []


async def test_upgrade_can_be_called_while_an_event_loop_runs(tmp_path: Path) -> None:
    # Blocks the loop, but must not fail with "asyncio.run() cannot be called from a running
    # event loop": alembic runs in its own thread.
    url = sqlite_url(tmp_path / "in-loop.db")
    upgrade(url)
    assert current_revision(url) == head_revision()


def test_there_is_one_head_and_it_is_named() -> None:
    head = head_revision()
    assert head is not None
    names = [path.name for path in (REPO_ROOT / "migrations" / "versions").glob("*.py")]
    assert any(name.startswith(f"{head}_") for name in names), names


# --- the `migrate` command ---------------------------------------------------------------------


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A subprocess, like an operator would run it; the command module is the entry point until
    # `migrate` is attached to the `optin` group (then `python -m optin migrate` is also tested).
    code = "from optin.cli.db import migrate; migrate(prog_name='optin migrate')"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_migrate_command_creates_the_tables(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "data" / "optin.db")
    result = _run_cli("--database-url", url, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"database": url, "revision": head_revision()}
    assert set((await _reflect(url)).tables) == MODEL_TABLES | {"alembic_version"}

    again = _run_cli("--database-url", url, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"{url} is at revision {head_revision()}"


def test_migrate_command_via_optin(tmp_path: Path) -> None:
    if "migrate" not in optin_cli.commands:
        pytest.skip("`migrate` is not attached to the optin command yet")
    url = sqlite_url(tmp_path / "optin.db")
    result = subprocess.run(
        [sys.executable, "-m", "optin", "migrate", "--database-url", url, "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["revision"] == head_revision()


def test_migrate_command_uses_the_settings_by_default(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from optin.cli.db import migrate; migrate()", "--json"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "OPTIN_DATA_DIR": str(tmp_path / "state")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["database"].endswith("/state/optin.db")
    assert (tmp_path / "state" / "optin.db").is_file()


@pytest.mark.postgres
def test_migrate_command_on_postgres_hides_the_password(postgres_server: PostgresServer) -> None:
    url = make_url(postgres_server.create_database())
    if url.password is None:
        if postgres_server.root is None:
            pytest.skip("the external test server's URL has no password to hide")
        url = url.set(password="s3cret-pw")  # our throwaway server trusts loopback
    password = str(url.password)
    result = _run_cli(
        "--database-url", url.render_as_string(hide_password=False), "--json", cwd=Path.cwd()
    )
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout
    assert json.loads(result.stdout) == {
        "database": url.render_as_string(hide_password=True),
        "revision": head_revision(),
    }


def test_migrate_command_fails_on_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql+asyncpg://optin:s3cret-pw@127.0.0.1:{port}/optin"
    result = _run_cli("--database-url", url, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: migrating postgresql+asyncpg://optin:***@127.0.0.1:{port}")
    assert "s3cret-pw" not in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_command_rejects_an_unknown_revision(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "optin.db")
    result = _run_cli("--database-url", url, "--revision", "nope", cwd=tmp_path)
    assert result.returncode == 1
    assert "Can't locate revision" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
async def test_postgres_url_is_an_empty_database_of_this_session(postgres_url: str) -> None:
    assert str(make_url(postgres_url).database).startswith("optin_session_")
    assert (await _reflect(postgres_url)).tables == {}
