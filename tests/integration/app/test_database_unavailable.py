"""The database unreachable: the API answers 503 problem details with Retry-After, never a 500,
and serves again as soon as the database is back (no restart of the app).

PostgreSQL is really stopped (the suite's throwaway server, resumed afterwards); SQLite is
pointed at a path it cannot open. A value the database cannot store is the client's fault: 400.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from enrollment_app.asgi import create_app
from enrollment_app.problems import DATABASE_RETRY_AFTER
from optin.config import Settings, sqlite_url

from support.postgres import PostgresServer


def _settings(database_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")})
    return dataclasses.replace(base, database_url=database_url)


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == str(DATABASE_RETRY_AFTER)
    body = response.json()
    assert (body["status"], body["code"]) == (503, "database-unavailable")
    assert body["retry_after"] == DATABASE_RETRY_AFTER


@pytest.mark.postgres
@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
async def test_postgres_stopped_answers_503_then_serves_again(
    database_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    app = create_app(_settings(database_url, tmp_path))
    async with AsyncTestClient(app) as client:
        assert (await client.get("/api/v1/venues")).status_code == 200
        try:
            postgres_server.shutdown()
        except RuntimeError:
            pytest.skip("an external PostgreSQL (OPTIN_TEST_POSTGRES_URL) cannot be stopped")
        try:
            read = await client.get("/api/v1/venues")
            change = await client.post(
                "/api/v1/portal/sign-in", json={"recovery_code": "AAAA-BBBB-CCCC-DDDD"}
            )
        finally:
            postgres_server.resume()
        assert_unavailable(read)
        assert_unavailable(change)
        # Back without restarting the app: the pool's pre-ping drops the broken connections.
        assert (await client.get("/api/v1/venues")).status_code == 200


async def test_sqlite_that_cannot_be_opened_answers_503(tmp_path: Path) -> None:
    unusable = tmp_path / "optin.db"
    unusable.mkdir()  # a directory where the database file should be: SQLite cannot open it
    app = create_app(_settings(sqlite_url(unusable), tmp_path))
    async with AsyncTestClient(app) as client:
        assert_unavailable(await client.get("/api/v1/venues"))
        assert_unavailable(await client.get("/api/v1/notices"))
        # Nothing to do with the database: still answers.
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("db_backend", ["postgres"], indirect=True)
async def test_text_postgresql_cannot_store_is_a_400(database_url: str, tmp_path: Path) -> None:
    """A NUL character (which PostgreSQL text refuses) in a looked-up user name, as the fuzzer
    sent it: a 400 problem, not a 500."""
    app = create_app(_settings(database_url, tmp_path))
    body = {"username": "admin\u0000", "password": "x" * 12, "code": "000000"}
    async with AsyncTestClient(app) as client:
        refused = await client.post("/api/v1/console/sign-in", json=body)
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "invalid-input"
