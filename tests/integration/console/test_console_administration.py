"""Administrators: operators, venues, gates, products and notices through the console API."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import OperatorRole
from optin.db.models import QueuedMail

from support.console_world import ConsoleWorld, Credentials
from support.enrollment_world import EnrollmentWorld
from support.smtp import ReceivedMail

C = "/api/v1/console"


async def test_operator_accounts_are_created_restricted_and_disabled(
    console: ConsoleWorld,
) -> None:
    admin = await console.account(OperatorRole.ADMINISTRATOR)
    async with console.signed_in(admin) as administrator:
        created = await administrator.post(
            f"{C}/operators",
            json={
                "username": "front-desk",
                "password": "a long enough passphrase",
                "role": "venue_staff",
                "venue": "onsen-hotel",
                "hours": ["daily 00:00-24:00"],
                "networks": ["192.168.10.0/24"],
            },
        )
        assert created.status_code == 201, created.text
        account = created.json()
        assert account["totp_uri"].startswith("otpauth://")
        listed = (await administrator.get(f"{C}/operators")).json()
        assert "totp_secret" not in next(o for o in listed if o["username"] == "front-desk")
        bad = await administrator.post(
            f"{C}/operators",
            json={
                "username": "another",
                "password": "a long enough passphrase",
                "role": "auditor",
                "networks": ["not-a-network"],
            },
        )
        assert bad.status_code == 400
        assert "not a network" in bad.json()["note"]
        staff = Credentials(
            "front-desk",
            "a long enough passphrase",
            account["totp_secret"],
            OperatorRole.VENUE_STAFF,
        )
        async with console.signed_in(staff) as desk:
            gates = await desk.get(f"{C}/venues/onsen-hotel/gates")
            assert gates.status_code == 200
            assert [v["slug"] for v in (await desk.get(f"{C}/venues")).json()] == ["onsen-hotel"]
            disabled = await administrator.post(f"{C}/operators/{account['id']}/disable")
            assert disabled.status_code == 200
            # Disabling ends the open session at once.
            assert (await desk.get(f"{C}/me")).status_code == 401
        me = (await administrator.get(f"{C}/operators")).json()
        own = next(o for o in me if o["username"] == admin.username)
        assert (await administrator.post(f"{C}/operators/{own['id']}/disable")).status_code == 400


async def test_venues_gates_and_products(console: ConsoleWorld) -> None:
    admin = await console.account(OperatorRole.ADMINISTRATOR)
    async with console.signed_in(admin) as administrator:
        venue = await administrator.post(
            f"{C}/venues", json={"slug": "ropeway", "name": "Ropeway", "timezone": "Asia/Tokyo"}
        )
        assert venue.status_code == 201, venue.text
        duplicate = await administrator.post(f"{C}/venues", json={"slug": "ropeway", "name": "R"})
        assert duplicate.status_code == 409
        gate = await administrator.post(f"{C}/venues/ropeway/gates", json={"name": "North"})
        assert gate.status_code == 201
        token = gate.json()["token"]
        assert token.startswith("optin_gate")
        # The gate makes contact; the console shows when.
        seen = await console.world.client.get(
            "/api/v1/agent/gallery", headers={"authorization": f"Bearer {token}"}
        )
        assert seen.status_code in {200, 403}  # 403: no notice names the venue yet
        [listed] = (await administrator.get(f"{C}/venues/ropeway/gates")).json()
        assert listed["last_contact_at"] is not None
        assert "token" not in listed
        revoked = await administrator.post(f"{C}/gates/{listed['id']}/revoke")
        assert revoked.json()["revoked_at"] is not None
        refused = await console.world.client.get(
            "/api/v1/agent/gallery", headers={"authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 401
        product = await administrator.post(
            f"{C}/venues/ropeway/products",
            json={"code": "day-pass", "name": "Day", "valid_days": 1},
        )
        assert product.status_code == 201
        codes = [
            p["code"] for p in (await administrator.get(f"{C}/venues/ropeway/products")).json()
        ]
        assert "day-pass" in codes


async def _delivered(world: EnrollmentWorld, count: int) -> list[ReceivedMail]:
    """Mails the app's background sender delivered, once it has emptied the queue (SQLite:
    a request writing while the sender commits would fail); waits without blocking its loop."""
    engine = create_engine(world.settings.database_url)
    try:
        for _ in range(100):
            async with session_factory(engine)() as session:
                left = await session.scalar(select(func.count()).select_from(QueuedMail))
            if len(world.smtp.received) >= count and left == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    return world.smtp.received


async def test_a_change_of_purpose_from_the_console_sets_consents_aside(
    console: ConsoleWorld,
) -> None:
    world = console.world
    enrolled = await world.enroll(purposes=("entry", "payment"), email="pays@example.org")
    await world.enroll(
        "kit_harington/kit_harington_1.jpg", purposes=("entry",), email="walks@example.org"
    )
    world.smtp.wait_for(2)  # the two sign-in links
    world.smtp.clear()
    admin = await console.account(OperatorRole.ADMINISTRATOR)
    async with console.signed_in(admin) as administrator:
        past = await administrator.post(
            f"{C}/notices",
            json={
                "venues": ["onsen-hotel", "adventure-park"],
                "purposes": ["entry", "payment"],
                "effective_at": (utcnow() - timedelta(days=1)).isoformat(),
            },
        )
        assert past.status_code == 400
        later = await administrator.post(
            f"{C}/notices",
            json={
                "venues": ["onsen-hotel", "adventure-park"],
                "purposes": ["entry", "payment"],
                "changed_purposes": ["payment"],
                "effective_at": (utcnow() + timedelta(days=14)).isoformat(),
            },
        )
        assert later.status_code == 201, later.text
        assert later.json()["consents_needing_renewal"] == 0  # announced, not yet in effect
        # Told in advance (queued with the publication, sent by the server in the background):
        # only the person whose payment consent the change will set aside.
        assert later.json()["mails_queued"] == 1
        [mail] = await _delivered(world, 1)
        assert mail.message["To"] == "pays@example.org"
        assert mail.message["Subject"] == "We are changing how we use your data"
        assert "Payment by face" in mail.text
        assert f"{world.settings.base_url}/en/portal" in mail.text
        world.smtp.clear()
        now = await administrator.post(
            f"{C}/notices",
            json={
                "venues": ["onsen-hotel", "adventure-park"],
                "purposes": ["entry", "payment"],
                "changed_purposes": ["entry"],
            },
        )
        assert now.status_code == 201, now.text
        # Both people consented to entry on the earlier text: both are set aside and told.
        assert now.json()["consents_needing_renewal"] == 2
        assert now.json()["mails_queued"] == 2
        told = {m.message["To"] for m in await _delivered(world, 2)}
        assert told == {"pays@example.org", "walks@example.org"}
        versions = [
            (n["version"], n["in_effect"]) for n in (await administrator.get(f"{C}/notices")).json()
        ]
        assert versions[:2] == [(3, True), (2, False)]
    signed = await world.client.post(
        "/api/v1/portal/sign-in", json={"recovery_code": enrolled["recovery_code"]}
    )
    assert signed.status_code == 200
    consents = (await world.client.get("/api/v1/portal/me")).json()["consents"]
    needing = {c["purpose"]: c["renewal_required_at"] is not None for c in consents}
    assert needing == {"entry": True, "payment": False}


async def test_auditors_verify_the_chain_and_see_tampering(console: ConsoleWorld) -> None:
    from sqlalchemy import text

    from optin.db.engine import create_engine

    auditor = await console.account(OperatorRole.AUDITOR)
    async with console.signed_in(auditor) as reader:
        intact = (await reader.get(f"{C}/audit/verify")).json()
        assert intact["ok"] is True
        assert intact["entries"] >= 2  # the account's creation and this sign-in
        entries = (await reader.get(f"{C}/audit/")).json()
        assert entries[0]["action"] == "console.signed_in"
        engine = create_engine(console.world.settings.database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE audit_log SET reason = 'edited' WHERE seq = 1")
                )
        finally:
            await engine.dispose()
        broken = (await reader.get(f"{C}/audit/verify")).json()
        assert broken["ok"] is False
        assert broken["seq"] == 1


async def test_the_sessions_view_shows_devices_and_can_end_a_session(
    console: ConsoleWorld,
) -> None:
    admin = await console.account(OperatorRole.ADMINISTRATOR)
    officer = await console.account(OperatorRole.PRIVACY_OFFICER)
    async with console.signed_in(officer) as po, console.signed_in(admin) as administrator:
        listed = (await administrator.get(f"{C}/sessions")).json()
        by_user = {s["username"]: s for s in listed}
        assert set(by_user) == {admin.username, officer.username}
        seen = by_user[officer.username]
        assert seen["open"] is True
        assert seen["client_address"] == "192.168.10.20"
        assert seen["user_agent"]  # the test client's browser string
        assert seen["elapsed_minutes"] >= 0
        assert by_user[admin.username]["current"] is True
        ended = await administrator.post(f"{C}/sessions/{seen['id']}/end")
        assert ended.status_code == 200
        assert (await po.get(f"{C}/me")).status_code == 401
        after = {s["username"]: s for s in (await administrator.get(f"{C}/sessions")).json()}
        assert after[officer.username]["end_reason"] == "ended_by_administrator"
