"""Registered devices (acceptance check 25): sign-in from a device that is not registered for the
operator is refused and audited; registration links work once and briefly; revoking a device ends
its sessions; operators manage their own devices, administrators everyone's."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import OperatorRole
from optin.db.models import OperatorDevice, OperatorSession
from optin.services.operator_devices import device_cookie_name

from support.console_world import OFFICE, ConsoleWorld

SIGN_IN = "/api/v1/console/sign-in"
REGISTER = "/api/v1/console/devices/register"
REFUSED_NOTE = "registered"


async def _devices(console: ConsoleWorld, **values: Any) -> list[OperatorDevice]:
    """Every device row (after setting ``values`` on all of them, if given)."""
    engine = create_engine(console.world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            if values:
                await session.execute(update(OperatorDevice).values(**values))
                await session.commit()
            return list((await session.scalars(select(OperatorDevice))).all())
    finally:
        await engine.dispose()


async def _refusals(console: ConsoleWorld) -> list[dict[str, Any]]:
    return [e.details for e in await console.audit("console.sign_in_refused")]


async def test_sign_in_without_a_registered_device_is_refused_and_audited(
    console: ConsoleWorld,
) -> None:
    officer = await console.account(OperatorRole.PRIVACY_OFFICER, device=False)
    registered = await console.account(OperatorRole.AUDITOR)
    async with console.client() as browser:
        missing = await browser.post(SIGN_IN, json=officer.sign_in_body())
        assert missing.status_code == 403
        assert REFUSED_NOTE in missing.json()["note"]
        # A made-up token under the operator's own cookie name.
        name = device_cookie_name(await console.operator_id(registered))
        assert set(registered.device_cookies) == {name}
        browser.cookies.set(name, "optin_device_" + "A" * 43)
        unknown = await browser.post(SIGN_IN, json=registered.sign_in_body())
        assert unknown.status_code == 403
    # The credentials were right: the refusals do not count towards a lock-out.
    assert await _refusals(console) == [
        {"why": "device", "client": OFFICE, "device": "missing"},
        {"why": "device", "client": OFFICE, "device": "unknown"},
    ]
    async with console.signed_in(registered) as auditor:
        assert (await auditor.get("/api/v1/console/me")).status_code == 200


async def test_another_operators_device_does_not_sign_in(console: ConsoleWorld) -> None:
    owner = await console.account(OperatorRole.PRIVACY_OFFICER)
    other = await console.account(OperatorRole.AUDITOR, device=False)
    # The owner's browser, as it is, and with the owner's cookie renamed to the other account's.
    async with console.client(device=owner) as shared:
        refused = await shared.post(SIGN_IN, json=other.sign_in_body())
        assert refused.status_code == 403
    [token] = owner.device_cookies.values()
    async with console.client() as copied:
        copied.cookies.set(device_cookie_name(await console.operator_id(other)), token)
        renamed = await copied.post(SIGN_IN, json=other.sign_in_body())
        assert renamed.status_code == 403
    assert [r["device"] for r in await _refusals(console)] == ["other_operator", "other_operator"]


async def test_administrator_issues_a_link_that_registers_the_browser_once(
    console: ConsoleWorld,
) -> None:
    admin = await console.account(OperatorRole.ADMINISTRATOR)
    officer = await console.account(OperatorRole.PRIVACY_OFFICER, device=False)
    async with console.signed_in(admin) as administrator:
        [row] = [
            o
            for o in (await administrator.get("/api/v1/console/operators")).json()
            if o["username"] == officer.username
        ]
        issued = await administrator.post(
            f"/api/v1/console/operators/{row['id']}/devices", json={"label": "Desk 3"}
        )
        assert issued.status_code == 201, issued.text
        link = issued.json()
        assert link["state"] == "pending"
        assert link["url"].endswith(f"/console/device#{link['code']}")
        expires = datetime.fromisoformat(link["registration_expires_at"])
        assert utcnow() < expires <= utcnow() + timedelta(hours=1)
    async with console.client() as browser:
        registered = await browser.post(
            REGISTER, json={"code": link["code"]}, headers={"user-agent": "Desk browser"}
        )
        assert registered.status_code == 200, registered.text
        assert registered.json()["username"] == officer.username
        cookie = registered.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/api/v1/console" in cookie
        assert "max-age=" in cookie
        assert "secure" not in cookie  # plain http here; see the https test below
        signed = await browser.post(SIGN_IN, json=officer.sign_in_body())
        assert signed.status_code == 200, signed.text
        officer.accepted()
        [mine] = (await browser.get("/api/v1/console/devices")).json()
        assert (mine["label"], mine["state"], mine["user_agent"]) == (
            "Desk 3",
            "registered",
            "Desk browser",
        )
        assert mine["last_used_at"] is not None
    # Used once: the same link registers nothing more.
    async with console.client() as second:
        again = await second.post(REGISTER, json={"code": link["code"]})
        assert again.status_code == 410
        assert not second.cookies
    only_digests = await _devices(console)
    assert all(link["code"] not in (d.registration_digest, d.token_digest) for d in only_digests)
    refused = await console.audit("operator.device_registration_refused")
    assert [e.details["why"] for e in refused] == ["used"]
    for action in ("operator.device_registration_issued", "operator.device_registered"):
        assert await console.audit(action), action


async def test_an_expired_link_registers_nothing(console: ConsoleWorld) -> None:
    officer = await console.account(OperatorRole.PRIVACY_OFFICER, device=False)
    code = await console.code(officer)
    await _devices(console, registration_expires_at=utcnow() - timedelta(seconds=1))
    async with console.client() as browser:
        expired = await browser.post(REGISTER, json={"code": code})
        assert expired.status_code == 410
        assert "ask for a new one" in expired.json()["note"]
        assert (await browser.post(SIGN_IN, json=officer.sign_in_body())).status_code == 403
    refused = await console.audit("operator.device_registration_refused")
    assert [e.details["why"] for e in refused] == ["expired"]


async def test_revoking_a_device_ends_its_sessions_and_its_sign_ins(
    console: ConsoleWorld,
) -> None:
    admin = await console.account(OperatorRole.ADMINISTRATOR)
    officer = await console.account(OperatorRole.PRIVACY_OFFICER)
    async with console.signed_in(officer) as signed, console.signed_in(admin) as administrator:
        [device] = (await signed.get("/api/v1/console/devices")).json()
        # Not the officer's to revoke through someone else, and not theirs to issue.
        issue = await signed.post(
            f"/api/v1/console/operators/{device['operator_id']}/devices", json={"label": "x"}
        )
        assert issue.status_code == 403
        listed = await administrator.get(
            f"/api/v1/console/operators/{device['operator_id']}/devices"
        )
        assert [d["id"] for d in listed.json()] == [device["id"]]
        revoked = await administrator.post(f"/api/v1/console/devices/{device['id']}/revoke")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["state"] == "revoked"
        assert (await signed.get("/api/v1/console/me")).status_code == 401
        assert (await administrator.get("/api/v1/console/me")).status_code == 200
    async with console.client(device=officer) as browser:
        refused = await browser.post(SIGN_IN, json=officer.sign_in_body())
        assert refused.status_code == 403
    assert (await _refusals(console))[-1]["device"] == "revoked"
    [entry] = await console.audit("operator.device_revoked")
    assert entry.details["device"] == device["id"]
    engine = create_engine(console.world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            ended = await session.scalars(
                select(OperatorSession.end_reason).where(
                    OperatorSession.device_id == OperatorDevice.id,
                    OperatorDevice.revoked_at.is_not(None),
                )
            )
            assert list(ended.all()) == ["device_revoked"]
    finally:
        await engine.dispose()


async def test_operators_revoke_their_own_devices_but_not_others(console: ConsoleWorld) -> None:
    officer = await console.account(OperatorRole.PRIVACY_OFFICER)
    auditor = await console.account(OperatorRole.AUDITOR)
    async with console.signed_in(officer) as own, console.signed_in(auditor) as other:
        [device] = (await own.get("/api/v1/console/devices")).json()
        theirs = await other.post(f"/api/v1/console/devices/{device['id']}/revoke")
        assert theirs.status_code == 404
        assert (await own.get("/api/v1/console/me")).status_code == 200
        mine = await own.post(f"/api/v1/console/devices/{device['id']}/revoke")
        assert mine.status_code == 200
        # The session was on that device: it is over.
        assert (await own.get("/api/v1/console/me")).status_code == 401


@pytest.mark.parametrize("required", [True, False])
async def test_the_rule_can_be_switched_off(console: ConsoleWorld, required: bool) -> None:
    settings = console.world.settings
    relaxed = dataclasses.replace(
        settings,
        console=dataclasses.replace(settings.console, require_registered_devices=required),
    )
    world = ConsoleWorld(dataclasses.replace(console.world, settings=relaxed))
    officer = await world.account(OperatorRole.PRIVACY_OFFICER, device=False)
    async with world.client() as browser:
        response = await browser.post(SIGN_IN, json=officer.sign_in_body())
        assert response.status_code == (403 if required else 200)


async def test_the_device_cookie_is_secure_behind_https(console: ConsoleWorld) -> None:
    https = dataclasses.replace(console.world.settings, public_url="https://optin.example")
    world = ConsoleWorld(dataclasses.replace(console.world, settings=https))
    officer = await world.account(OperatorRole.PRIVACY_OFFICER, device=False)
    async with world.client() as browser:
        registered = await browser.post(REGISTER, json={"code": await world.code(officer)})
        assert registered.status_code == 200, registered.text
        assert "secure" in registered.headers["set-cookie"].lower()
