"""Console sign-in: password + TOTP, lock-out, allowed networks and hours, session limits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import OperatorRole
from optin.db.models import OperatorSession

from support.console_world import ConsoleWorld

SIGN_IN = "/api/v1/console/sign-in"


async def _sessions(console: ConsoleWorld, **values: Any) -> list[OperatorSession]:
    engine = create_engine(console.world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            if values:
                await session.execute(update(OperatorSession).values(**values))
                await session.commit()
            return list((await session.scalars(select(OperatorSession))).all())
    finally:
        await engine.dispose()


async def test_password_and_totp_open_a_bounded_http_only_session(console: ConsoleWorld) -> None:
    officer = await console.account(OperatorRole.PRIVACY_OFFICER)
    async with console.client(device=officer) as client:
        response = await client.post(SIGN_IN, json=officer.sign_in_body())
        assert response.status_code == 200, response.text
        officer.accepted()
        cookies = response.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith("optin_console="))
        assert "httponly" in session_cookie.lower()
        assert "samesite=strict" in session_cookie.lower()
        me = (await client.get("/api/v1/console/me")).json()
        assert me["role"] == "privacy_officer"
        assert "handle_requests" in me["permissions"]
        expires = datetime.fromisoformat(me["session_expires_at"])
        limit = console.world.settings.console.session_limit_minutes
        assert expires <= utcnow() + timedelta(minutes=limit)
        # Allowed hours "daily 00:00-24:00" in Tokyo: the session also ends at local midnight.
        tokyo = utcnow().astimezone(ZoneInfo("Asia/Tokyo"))
        midnight = datetime.combine(
            tokyo.date() + timedelta(days=1), datetime.min.time(), tokyo.tzinfo
        )
        assert expires <= midnight
        # Changes need the CSRF token as well as the cookie.
        refused = await client.post("/api/v1/console/sign-out")
        assert refused.status_code == 401
        csrf = response.json()["csrf_token"]
        out = await client.post("/api/v1/console/sign-out", headers={"x-csrf-token": csrf})
        assert out.status_code == 200
        assert (await client.get("/api/v1/console/me")).status_code == 401
    signed_in = await console.audit("console.signed_in")
    assert signed_in[0].actor_id is not None
    assert [e.details["why"] for e in await console.audit("console.signed_out")] == ["signed_out"]


async def test_wrong_code_wrong_password_and_replayed_code_are_refused(
    console: ConsoleWorld,
) -> None:
    staff = await console.account(OperatorRole.AUDITOR)
    async with console.client(device=staff) as client:
        wrong_code = await client.post(SIGN_IN, json=staff.sign_in_body(code="000000"))
        assert wrong_code.status_code == 401
        wrong_password = await client.post(SIGN_IN, json=staff.sign_in_body(password="nope" * 4))
        assert wrong_password.status_code == 401
        unknown = await client.post(
            SIGN_IN, json=staff.sign_in_body(username="nobody", code="123456")
        )
        assert unknown.status_code == 401
        # All three say the same thing: nothing tells which part was wrong.
        notes = {r.json()["note"] for r in (wrong_code, wrong_password, unknown)}
        assert len(notes) == 1
        body = staff.sign_in_body()
        assert (await client.post(SIGN_IN, json=body)).status_code == 200
        staff.accepted()
        replay = await client.post(SIGN_IN, json=body)
        assert replay.status_code == 401
    reasons = [e.details["why"] for e in await console.audit("console.sign_in_refused")]
    assert reasons == ["totp", "password", "unknown_user", "totp"]


async def test_repeated_failures_lock_the_account_until_an_administrator_unlocks(
    console: ConsoleWorld,
) -> None:
    target = await console.account(OperatorRole.PRIVACY_OFFICER)
    admin = await console.account(OperatorRole.ADMINISTRATOR)
    limit = console.world.settings.console.lockout_after
    async with console.client(device=target) as client:
        for _ in range(limit):
            response = await client.post(SIGN_IN, json=target.sign_in_body(password="x" * 12))
            assert response.status_code == 401
        locked = await client.post(SIGN_IN, json=target.sign_in_body())
        assert locked.status_code == 423
        assert "locked until" in locked.json()["note"]
        # When to come back, in seconds: the rest of the lock-out (header and problem alike).
        lock_seconds = console.world.settings.console.lockout_minutes * 60
        retry_after = int(locked.headers["Retry-After"])
        assert lock_seconds - 10 <= retry_after <= lock_seconds
        assert locked.json()["retry_after"] == retry_after
    async with console.signed_in(admin) as administrator:
        [listed] = [
            o
            for o in (await administrator.get("/api/v1/console/operators")).json()
            if o["username"] == target.username
        ]
        assert listed["locked_until"] is not None
        unlocked = await administrator.post(f"/api/v1/console/operators/{listed['id']}/unlock")
        assert unlocked.status_code == 200
    async with console.signed_in(target) as officer:
        assert (await officer.get("/api/v1/console/me")).status_code == 200


async def test_sign_in_from_outside_the_allowed_networks_is_refused(
    console: ConsoleWorld,
) -> None:
    officer = await console.account(OperatorRole.PRIVACY_OFFICER, networks=("192.168.10.0/24",))
    async with console.client("203.0.113.9", officer) as client:
        response = await client.post(SIGN_IN, json=officer.sign_in_body())
        assert response.status_code == 403
        assert "network" in response.json()["note"]
    [refusal] = await console.audit("console.sign_in_refused")
    assert refusal.details == {"why": "network", "client": "203.0.113.9"}


async def test_sign_in_outside_the_allowed_hours_is_refused(console: ConsoleWorld) -> None:
    tokyo_day = utcnow().astimezone(ZoneInfo("Asia/Tokyo")).weekday()
    other_day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[(tokyo_day + 3) % 7]
    officer = await console.account(
        OperatorRole.PRIVACY_OFFICER, hours=(f"{other_day} 09:00-17:00",)
    )
    async with console.client(device=officer) as client:
        response = await client.post(SIGN_IN, json=officer.sign_in_body())
        assert response.status_code == 403
        assert f"{other_day} 09:00-17:00" in response.json()["note"]
    assert [e.details["why"] for e in await console.audit("console.sign_in_refused")] == ["hours"]


@pytest.mark.parametrize(
    ("column", "reason"),
    [("last_seen_at", "idle"), ("expires_at", "limit")],
)
async def test_idle_and_overlong_sessions_are_signed_out(
    console: ConsoleWorld, column: str, reason: str
) -> None:
    officer = await console.account(OperatorRole.PRIVACY_OFFICER)
    async with console.signed_in(officer) as signed:
        assert (await signed.get("/api/v1/console/me")).status_code == 200
        await _sessions(console, **{column: utcnow() - timedelta(hours=9)})
        response = await signed.get("/api/v1/console/me")
        assert response.status_code == 401
        assert "signed out" in response.json()["note"]
    [ended] = await _sessions(console)
    assert ended.end_reason == reason


async def test_a_session_ends_when_its_network_is_no_longer_allowed(
    console: ConsoleWorld,
) -> None:
    officer = await console.account(OperatorRole.PRIVACY_OFFICER, networks=("192.168.10.0/24",))
    admin = await console.account(OperatorRole.ADMINISTRATOR)
    async with console.signed_in(officer) as signed, console.signed_in(admin) as administrator:
        [row] = [
            o
            for o in (await administrator.get("/api/v1/console/operators")).json()
            if o["username"] == officer.username
        ]
        moved = await administrator.patch(
            f"/api/v1/console/operators/{row['id']}/access",
            json={"networks": ["10.1.0.0/16"], "hours": ["daily 00:00-24:00"]},
        )
        assert moved.status_code == 200, moved.text
        assert (await signed.get("/api/v1/console/me")).status_code == 401
