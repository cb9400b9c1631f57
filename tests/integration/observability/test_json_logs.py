"""A full run against ``optin serve`` with JSON logs: every line is a JSON object, request lines
carry a request id and a route template, and nothing personal or secret is in the log."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from optin.db.engine import create_engine, session_factory
from optin.services.gates import register_gate

from support.enrollment_world import EnrollmentWorld
from support.fake_agent_api import LIN_MANUEL, SAMPLES
from support.served_app import served

VENUE = "onsen-hotel"
EMAIL = "lin.observed@example.org"


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
async def test_logs_of_a_full_run_are_json_and_hold_nothing_personal(
    world: EnrollmentWorld, tmp_path: Path
) -> None:
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        _gate, gate_token = await register_gate(session, world.keys.tokens, VENUE, "Front door")
        await session.commit()
    await engine.dispose()
    photo = (SAMPLES / "faces" / LIN_MANUEL).read_bytes()
    log_path = tmp_path / "serve.log"
    secrets: list[str] = [EMAIL, gate_token]

    request_ids = await asyncio.to_thread(_full_run, world, log_path, gate_token, photo, secrets)

    lines = [line for line in log_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines
    entries = [json.loads(line) for line in lines]  # every line is a JSON object
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    requests = [entry for entry in entries if entry["logger"] == "optin.request"]
    assert len(requests) >= 8
    for entry in requests:
        assert re.fullmatch(r"[0-9a-f]{32}", entry["request_id"]), entry
        assert {"method", "route", "status", "duration_ms"} <= entry.keys(), entry
        assert "?" not in entry["route"]
    assert request_ids <= {entry["request_id"] for entry in requests}
    routes = {(entry["method"], entry["route"], entry["status"]) for entry in requests}
    assert ("POST", "/api/v1/enrollments", 201) in routes
    assert ("GET", "/api/v1/agent/gallery", 200) in routes
    assert ("POST", "/api/v1/portal/withdraw", 200) in routes

    text = log_path.read_text(encoding="utf-8")
    for secret in secrets:
        assert secret not in text
    assert "AAAAA-BBBBB" not in text
    for start in range(0, len(photo) - 48, max(1, len(photo) // 16)):
        assert base64.b64encode(photo[start : start + 48]).decode() not in text
    number = r"-?\d+\.\d+(?:[eE][-+]?\d+)?"
    assert not re.search(rf"{number}(?:\s*,\s*{number}){{7,}}", text), "a template fragment"


def _full_run(
    world: EnrollmentWorld, log_path: Path, gate_token: str, photo: bytes, secrets: list[str]
) -> set[str]:
    """Enrol, sync a gate, sign in with the recovery code, withdraw; the request ids seen."""
    with (
        served({**world.env(), "OPTIN_LOG_FORMAT": "json"}, log_path=log_path) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        enrolled = client.post(
            "/api/v1/enrollments",
            data={
                "notice_id": world.notices["en"],
                "locale": "en",
                "email": EMAIL,
                "purposes": ["entry"],
                "venues": [VENUE],
                "trip_end": (date.today() + timedelta(days=3)).isoformat(),
            },
            files={"photo": ("selfie.png", photo, "image/png")},
        )
        assert enrolled.status_code == 201, enrolled.text
        recovery_code = enrolled.json()["recovery_code"]
        secrets += [recovery_code, recovery_code.replace("-", "")]

        gate = {"Authorization": f"Bearer {gate_token}"}
        assert client.get("/api/v1/agent/config", headers=gate).status_code == 200
        gallery = client.get("/api/v1/agent/gallery", params={"since": 0}, headers=gate)
        assert gallery.status_code == 200
        assert gallery.json()["entries"]

        signed = client.post("/api/v1/portal/sign-in", json={"recovery_code": recovery_code})
        assert signed.status_code == 200, signed.text
        csrf = signed.json()["csrf_token"]
        session_cookie = client.cookies["optin_session"]
        secrets += [session_cookie, csrf]
        assert client.get("/api/v1/portal/me").status_code == 200
        # A query string never reaches the log, nor does a refused sign-in's input.
        client.get("/api/v1/portal/me", params={"email": EMAIL})
        client.post("/api/v1/portal/sign-in", json={"recovery_code": "AAAAA-BBBBB-CCCCC-DDDDD"})
        withdrawn = client.post(
            "/api/v1/portal/withdraw", json={"venue": VENUE}, headers={"X-CSRF-Token": csrf}
        )
        assert withdrawn.status_code == 200, withdrawn.text
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        return {metrics.headers["x-request-id"], withdrawn.headers["x-request-id"]}
