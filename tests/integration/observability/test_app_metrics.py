"""GET /metrics: Prometheus text, counters by route template (never raw ids), optional token."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from enrollment_app.asgi import create_app
from optin.config import Settings


def _settings(database_url: str, tmp_path: Path, **env: str) -> Settings:
    base = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data"), **env})
    return dataclasses.replace(base, database_url=database_url)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _requests(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], route: str) -> float:
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "optin_http_requests_total" and dict(labels).get("route") == route
    )


async def test_metrics_count_requests_by_route_template(database_url: str, tmp_path: Path) -> None:
    app = create_app(_settings(database_url, tmp_path))
    session_id = "3f0c2a57-6a4f-4f7e-9d1c-2b5d7c9e8a10"
    async with AsyncTestClient(app) as client:
        before = _samples((await client.get("/metrics")).text)
        assert (await client.get("/healthz")).status_code == 200
        sign_out = await client.post(f"/api/v1/console/sessions/{session_id}/end")
        assert sign_out.status_code in {401, 403}
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-request-id"]
    after = _samples(response.text)
    assert _requests(after, "/healthz") == _requests(before, "/healthz") + 1
    templated = [
        dict(labels)
        for (name, labels), _ in after.items()
        if name == "optin_http_requests_total" and "{session_id" in dict(labels)["route"]
    ]
    assert templated, "the console route is counted under its template"
    assert session_id not in response.text
    assert "optin_http_request_duration_seconds_bucket" in response.text
    for family in (
        "optin_gallery_entries_served_total",
        "optin_gallery_long_polls_open",
        "optin_audit_entries",
        "process_cpu_seconds_total",
    ):
        assert re.search(rf"^{family}\b", response.text, re.MULTILINE), family
    assert "optin_enrollments" in response.text
    assert "optin_charges" in response.text


async def test_metrics_token_guard(database_url: str, tmp_path: Path) -> None:
    app = create_app(_settings(database_url, tmp_path, OPTIN_METRICS_TOKEN="s3cret-metrics"))
    async with AsyncTestClient(app) as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert "optin_http_requests_total" in right.text


async def test_request_id_is_returned_and_only_safe_ones_are_kept(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path)}))
    async with AsyncTestClient(app) as client:
        fresh = await client.get("/healthz")
        kept = await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c21"})
        unsafe = await client.get("/healthz", headers={"X-Request-ID": "a@b.example<script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    assert kept.headers["x-request-id"] == "lb-7f3a9c21"
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["x-request-id"])
