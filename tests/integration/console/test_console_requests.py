"""The request inbox end to end over the API, deadlines on a moved clock, stated reasons."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import OperatorRole
from optin.db.models import AuditEntry

from support.console_world import ConsoleWorld
from support.enrollment_world import EnrollmentWorld

C = "/api/v1/console"


async def _portal_request(world: EnrollmentWorld, recovery_code: str, kind: str) -> str:
    signed = await world.client.post(
        "/api/v1/portal/sign-in", json={"recovery_code": recovery_code}
    )
    assert signed.status_code == 200, signed.text
    filed = await world.client.post(
        "/api/v1/portal/requests",
        json={"kind": kind, "details": "Please send me everything you hold about me."},
        headers={"x-csrf-token": signed.json()["csrf_token"]},
    )
    assert filed.status_code == 201, filed.text
    return str(filed.json()["id"])


async def _audit(world: EnrollmentWorld) -> list[AuditEntry]:
    engine = create_engine(world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all())
    finally:
        await engine.dispose()


async def test_an_access_request_is_answered_end_to_end(console: ConsoleWorld) -> None:
    world = console.world
    enrolled = await world.enroll(email="tourist@example.org")
    request_id = await _portal_request(world, enrolled["recovery_code"], "access")
    officer = await console.account(OperatorRole.PRIVACY_OFFICER, "hanako")
    async with console.signed_in(officer) as po:
        [listed] = (await po.get(f"{C}/requests")).json()
        assert listed["id"] == request_id
        assert listed["status"] == "verified"  # the portal session proved who asked
        # The inbox shows no one's own words; opening the request does, and is audited.
        assert listed["details"] is None
        opened = (await po.get(f"{C}/requests/{request_id}")).json()
        assert opened["details"] == "Please send me everything you hold about me."
        assert not listed["overdue"]
        received = datetime.fromisoformat(listed["received_at"])
        clock = world.settings.console
        assert datetime.fromisoformat(listed["target_at"]) - received == timedelta(
            days=clock.request_target_days
        )
        assert datetime.fromisoformat(listed["due_at"]) - received == timedelta(
            days=clock.request_due_days
        )
        assert listed["days_left"] == pytest.approx(
            world.settings.console.request_due_days, abs=0.1
        )
        assert (await po.post(f"{C}/requests/{request_id}/start")).status_code == 200
        package = await po.post(f"{C}/requests/{request_id}/response-package")
        assert package.status_code == 200, package.text
        assert "hanako" in package.headers["content-disposition"]
        body = package.json()
        assert body["watermark"]["exported_by"] == "hanako"
        # The audit entry names the destination and the hash of the exact bytes handed over.
        exported = [e for e in await _audit(world) if e.action == "subject.exported"]
        assert exported[-1].details["sha256"] == hashlib.sha256(package.content).hexdigest()
        assert "browser download" in exported[-1].details["destination"]
        assert exported[-1].details["client"] == "192.168.10.20"
        assert body["watermark"]["request_id"] == request_id
        # The same document the person gets from the portal.
        assert body["disclosure"]["subject"]["id"] == enrolled["subject_id"]
        closed = await po.post(
            f"{C}/requests/{request_id}/close",
            json={"status": "completed", "outcome": "Export sent by registered mail."},
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "completed"
        again = await po.post(f"{C}/requests/{request_id}/start")
        assert again.status_code == 409
        assert (await po.get(f"{C}/requests")).json() == []
    # The person sees the answer and who looked at their data, and why.
    me = (await world.client.get("/api/v1/portal/me")).json()
    [request] = me["privacy_requests"]
    assert request["status"] == "completed"
    accesses = [(a["action"], a["reason"]) for a in me["operator_accesses"]]
    assert ("request.viewed", None) in accesses
    assert ("subject.exported", f"response to access request {request_id}") in accesses
    # Nothing in the audit log holds the person's contact address or recovery code.
    dumped = json.dumps(
        [[e.reason, e.details, e.subject_ref] for e in await _audit(world)], ensure_ascii=False
    )
    assert "tourist@example.org" not in dumped
    assert enrolled["recovery_code"] not in dumped


async def test_a_request_taken_by_phone_records_the_identity_check(
    console: ConsoleWorld,
) -> None:
    world = console.world
    enrolled = await world.enroll()
    officer = await console.account(OperatorRole.PRIVACY_OFFICER)
    async with console.signed_in(officer) as po:
        unverified = await po.post(
            f"{C}/requests",
            json={
                "kind": "deletion",
                "channel": "phone",
                "details": "Caller asks us to delete her data.",
                "identity_check": "caller could not give the recovery code yet",
            },
        )
        assert unverified.status_code == 201, unverified.text
        request_id = unverified.json()["id"]
        assert unverified.json()["status"] == "received"
        early = await po.post(
            f"{C}/requests/{request_id}/close",
            json={"status": "completed", "outcome": "deleted"},
        )
        assert early.status_code == 409
        package = await po.post(f"{C}/requests/{request_id}/response-package")
        assert package.status_code == 409
        verified = await po.post(
            f"{C}/requests/{request_id}/verify",
            json={
                "identity_check": "recovery code read out on a call back; passport seen",
                "recovery_code": enrolled["recovery_code"],
            },
        )
        assert verified.status_code == 200, verified.text
        assert verified.json()["subject_id"] == enrolled["subject_id"]
        assert "passport" in verified.json()["identity_check"]
        erased = await po.post(
            f"{C}/subjects/{enrolled['subject_id']}/erase",
            json={"reason": "deletion request by phone", "request_id": request_id},
        )
        assert erased.status_code == 200, erased.text
        done = await po.post(
            f"{C}/requests/{request_id}/close",
            json={"status": "completed", "outcome": "All data deleted."},
        )
        assert done.status_code == 200
    actions = [e.action for e in await _audit(world)]
    for expected in ("request.filed_on_behalf", "request.identity_verified", "subject.erased"):
        assert expected in actions


async def test_viewing_or_exporting_a_record_needs_a_reason_and_is_watermarked(
    console: ConsoleWorld,
) -> None:
    world = console.world
    enrolled = await world.enroll()
    subject = enrolled["subject_id"]
    officer = await console.account(OperatorRole.PRIVACY_OFFICER, "taro")
    async with console.signed_in(officer) as po:
        assert (await po.get(f"{C}/subjects/{subject}")).status_code == 400
        assert (
            await po.post(f"{C}/subjects/{subject}/export", json={"reason": ""})
        ).status_code == 400
        viewed = await po.get(f"{C}/subjects/{subject}", params={"reason": "complaint 42"})
        assert viewed.status_code == 200
        exported = await po.post(f"{C}/subjects/{subject}/export", json={"reason": "complaint 42"})
        assert exported.status_code == 200
        mark = exported.json()["watermark"]
        assert mark["exported_by"] == "taro"
        assert mark["reason"] == "complaint 42"
        assert "taro" in exported.headers["content-disposition"]
        assert exported.headers["cache-control"] == "no-store"
    logged = [(e.action, e.reason, e.subject_ref) for e in await _audit(world)]
    assert ("subject.viewed", "complaint 42", subject) in logged
    assert ("subject.exported", "complaint 42", subject) in logged


async def _move(console: ConsoleWorld, monkeypatch: pytest.MonkeyPatch, days: float) -> None:
    """Move the inbox's clock ``days`` ahead (the sign-in clock stays, or the session expires)."""
    real = utcnow
    monkeypatch.setattr(
        "enrollment_app.console.privacy.utcnow", lambda: real() + timedelta(days=days)
    )


async def test_an_unanswered_request_turns_overdue_when_the_clock_moves(
    console: ConsoleWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = console.world
    enrolled = await world.enroll()
    request_id = await _portal_request(world, enrolled["recovery_code"], "correction")
    officer = await console.account(OperatorRole.PRIVACY_OFFICER)
    settings = world.settings.console
    async with console.signed_in(officer) as po:
        states: list[dict[str, Any]] = []
        for days in (0, settings.request_target_days + 1, settings.request_due_days + 1):
            await _move(console, monkeypatch, days)
            [row] = (await po.get(f"{C}/requests")).json()
            states.append(row)
        assert [(s["past_target"], s["overdue"]) for s in states] == [
            (False, False),
            (True, False),
            (True, True),
        ]
        assert states[-1]["days_left"] < 0
        # Answered requests are never overdue, however late the clock.
        await po.post(
            f"{C}/requests/{request_id}/close",
            json={"status": "rejected", "outcome": "Nothing to correct."},
        )
        [closed] = (await po.get(f"{C}/requests", params={"show": "all"})).json()
        assert closed["overdue"] is False
