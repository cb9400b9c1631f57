"""Security headers on pages and API answers; per-address limits on enrollments and console
sign-ins (429 problem+json with Retry-After)."""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar.testing import AsyncTestClient

from enrollment_app.asgi import create_app
from enrollment_app.problems import PROBLEM_JSON
from optin.config import ConsoleSettings, EnrollmentSettings, PaymentSettings
from optin.db.enums import OperatorRole

from support.console_world import ConsoleWorld, from_address
from support.enrollment_world import EnrollmentWorld

PAGES = ("/", "/en/enroll", "/en/portal/sign-in", "/console", "/console/requests")
API = ("/api/v1/notices", "/healthz", "/api/v1/no-such-thing", "/static/enroll.js")


def _csp(response: Any) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {
        part.split(" ", 1)[0]: part.split(" ", 1)[1] if " " in part else ""
        for part in (p.strip() for p in policy.split(";"))
        if part
    }


async def test_pages_and_api_answers_carry_security_headers(world: EnrollmentWorld) -> None:
    for path in PAGES + API:
        response = await world.client.get(path, follow_redirects=False)
        assert response.status_code < 500, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "no-referrer", path
        assert _csp(response)["frame-ancestors"] == "'none'", path
        # Served over http here: no HSTS.
        assert "strict-transport-security" not in response.headers, path
        camera = "camera=(self)" if path == "/en/enroll" else "camera=()"
        assert camera in response.headers["permissions-policy"], path
    for path in PAGES:
        csp = _csp(await world.client.get(path))
        assert csp["default-src"] == "'none'"
        assert csp["script-src"] == "'self'"
        assert csp["style-src"] == "'self'"
    for path in API:
        assert _csp(await world.client.get(path))["default-src"] == "'none'"


async def test_hsts_only_with_an_https_public_url_and_the_portal_may_call_the_sandbox(
    world: EnrollmentWorld,
) -> None:
    settings = dataclasses.replace(
        world.settings,
        public_url="https://optin.example",
        payments=PaymentSettings(sandbox_url="https://pay.example:8443/base/"),
    )
    async with AsyncTestClient(create_app(settings)) as client:
        for path in ("/en/portal/sign-in", "/api/v1/notices", "/en/enroll"):
            response = await client.get(path)
            assert response.headers["strict-transport-security"].startswith("max-age="), path
        portal = _csp(await client.get("/en/portal/sign-in"))
        assert portal["connect-src"] == "'self' https://pay.example:8443"
        assert _csp(await client.get("/en/enroll"))["connect-src"] == "'self'"
        assert _csp(await client.get("/console"))["connect-src"] == "'self'"


async def test_enrollment_submissions_are_limited_per_address(world: EnrollmentWorld) -> None:
    settings = dataclasses.replace(
        world.settings, enrollment=EnrollmentSettings(submissions_per_minute=3)
    )
    app = create_app(settings)
    async with AsyncTestClient(from_address(app, "203.0.113.7")) as client:
        for _ in range(3):
            refused = await client.post("/api/v1/enrollments", data={"locale": "en"})
            assert refused.status_code == 400, refused.text
        limited = await client.post("/api/v1/enrollments", data={"locale": "en"})
        assert limited.status_code == 429
        assert limited.headers["content-type"].startswith(PROBLEM_JSON)
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.json()["code"] == "too-many-requests"
    # Another address is not held back by this one.
    async with AsyncTestClient(from_address(app, "203.0.113.8")) as other:
        answer = await other.post("/api/v1/enrollments", data={"locale": "en"})
        assert answer.status_code == 400


async def test_failed_console_sign_ins_are_limited_per_address(world: EnrollmentWorld) -> None:
    settings = dataclasses.replace(
        world.settings, console=ConsoleSettings(sign_in_failures_per_address=3)
    )
    console = ConsoleWorld(dataclasses.replace(world, settings=settings))
    officer = await console.account(OperatorRole.PRIVACY_OFFICER)
    async with console.client("192.168.10.30") as client:
        # Different accounts each time: the per-account lock-out never triggers.
        for name in ("alice", "bob", "carol"):
            body = {"username": name, "password": "guess", "code": "000000"}
            refused = await client.post("/api/v1/console/sign-in", json=body)
            assert refused.status_code == 401
        limited = await client.post("/api/v1/console/sign-in", json=officer.sign_in_body())
        assert limited.status_code == 429
        assert limited.headers["content-type"].startswith(PROBLEM_JSON)
        assert int(limited.headers["retry-after"]) > 0
    # The operator's own account is not locked: from another address they sign in.
    async with console.signed_in(officer, "192.168.10.31") as operator:
        assert (await operator.get("/api/v1/console/me")).status_code == 200
