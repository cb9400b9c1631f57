"""The app starts on both databases, reports readiness honestly and speaks problem details."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from litestar.testing import AsyncTestClient

from enrollment_app.asgi import create_app
from optin.config import Settings
from optin.db.migrate import head_revision


def _settings(database_url: str, tmp_path: Path) -> Settings:
    base = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")})
    return dataclasses.replace(base, database_url=database_url)


async def test_ready_on_a_migrated_database(database_url: str, tmp_path: Path) -> None:
    app = create_app(_settings(database_url, tmp_path))
    async with AsyncTestClient(app) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "schema": head_revision()}


async def test_not_ready_before_migration(empty_database_url: str, tmp_path: Path) -> None:
    app = create_app(_settings(empty_database_url, tmp_path))
    async with AsyncTestClient(app) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["content-type"].startswith("application/problem+json")
    body = ready.json()
    assert body["status"] == 503
    assert "optin migrate" in body["detail"]


async def test_unknown_route_is_a_problem_document(tmp_path: Path) -> None:
    settings = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path)})
    async with AsyncTestClient(create_app(settings)) as client:
        response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404


async def test_openapi_document_is_served(tmp_path: Path) -> None:
    settings = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path)})
    async with AsyncTestClient(create_app(settings)) as client:
        schema = await client.get("/api/docs/openapi.json")
        docs = await client.get("/api/docs")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/healthz", "/readyz"} <= set(paths)
    assert docs.status_code == 200
