"""The self-service portal API: sign in, disclosure and export, withdraw, shorten, delete."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func, select

from optin.crypto.signing import verify_document
from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.models import Consent, FaceTemplate, PortalSession, SignInLink, Subject
from optin.db.register import REGISTER
from optin.errors import KeyDestroyed
from optin.services.disclosure import COVERED
from optin.services.retention import sweep

from support.enrollment_world import SAMPLES, EnrollmentWorld


async def _enroll(world: EnrollmentWorld, photo: str = "obama/obama_4.jpg") -> dict[str, Any]:
    response = await world.client.post(
        "/api/v1/enrollments",
        data={
            "notice_id": world.notices["en"],
            "locale": "en",
            "email": "visitor@example.org",
            "purposes": ["entry", "payment"],
            "venues": ["onsen-hotel"],
            "trip_end": (date.today() + timedelta(days=5)).isoformat(),
        },
        files={"photo": ("selfie.jpg", (SAMPLES / photo).read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _mailed_token(world: EnrollmentWorld) -> str:
    [mail] = world.smtp.wait_for(1)
    match = re.search(r"token=(optin_signin_[A-Za-z0-9_-]+)", mail.text)
    assert match, mail.text
    return match.group(1)


async def _sign_in(world: EnrollmentWorld, **body: str) -> str:
    response = await world.client.post("/api/v1/portal/sign-in", json=body)
    assert response.status_code == 200, response.text
    assert "httponly" in response.headers["set-cookie"].lower()
    return str(response.json()["csrf_token"])


async def test_sign_in_disclose_export_withdraw_delete(world: EnrollmentWorld) -> None:
    enrolled = await _enroll(world)
    token = _mailed_token(world)
    csrf = await _sign_in(world, token=token)

    # The link works once.
    again = await world.client.post("/api/v1/portal/sign-in", json={"token": token})
    assert again.status_code == 401

    me = (await world.client.get("/api/v1/portal/me")).json()
    schema = (await world.client.get("/api/v1/portal/export.schema.json")).json()
    jsonschema.validate(me, schema)
    assert me["subject"]["contact"]["email"] == "visitor@example.org"
    assert {c["purpose"] for c in me["consents"]} == {"entry", "payment"}
    assert all(c["notice"]["text"] for c in me["consents"])
    assert len(me["face_templates"]) == 1
    assert me["controller"]["contact_email"] == world.settings.operator.contact_email
    assert "embedding" not in str(me)
    assert "template" not in {k for t in me["face_templates"] for k in t}

    export = await world.client.get("/api/v1/portal/export")
    assert export.headers["content-disposition"].startswith("attachment")
    jsonschema.validate(export.json(), schema)

    # Changes need the CSRF token.
    forged = await world.client.post("/api/v1/portal/withdraw", json={"purpose": "payment"})
    assert forged.status_code == 401
    receipt = await world.client.post(
        "/api/v1/portal/withdraw", json={"purpose": "payment"}, headers={"x-csrf-token": csrf}
    )
    assert receipt.status_code == 200, receipt.text
    document = receipt.json()
    assert document["type"] == "optin.withdrawal-receipt"
    assert document["withdrawn"] == [{"purpose": "payment", "venue": "onsen-hotel"}]
    assert verify_document(document, world.keys.signer.verifier)
    me = (await world.client.get("/api/v1/portal/me")).json()
    state = {c["purpose"]: c["withdrawn_at"] for c in me["consents"]}
    assert state["payment"] is not None
    assert state["entry"] is None

    shorter = (date.today() + timedelta(days=2)).isoformat()
    moved = await world.client.post(
        "/api/v1/portal/retention",
        json={"retention_until": shorter},
        headers={"x-csrf-token": csrf},
    )
    assert moved.status_code == 200
    longer = await world.client.post(
        "/api/v1/portal/retention",
        json={"retention_until": (date.today() + timedelta(days=60)).isoformat()},
        headers={"x-csrf-token": csrf},
    )
    assert longer.status_code == 400

    filed = await world.client.post(
        "/api/v1/portal/requests",
        json={"kind": "correction", "details": "My email address changed."},
        headers={"x-csrf-token": csrf},
    )
    assert filed.status_code == 201, filed.text
    me = (await world.client.get("/api/v1/portal/me")).json()
    assert me["privacy_requests"][0]["due_at"] > me["privacy_requests"][0]["received_at"]

    deleted = await world.client.post("/api/v1/portal/delete", headers={"x-csrf-token": csrf})
    assert deleted.status_code == 200
    assert deleted.json()["type"] == "optin.deletion-receipt"
    assert (await world.client.get("/api/v1/portal/me")).status_code == 401

    subject_id = uuid.UUID(enrolled["subject_id"])
    with pytest.raises(KeyDestroyed):
        world.keys.subjects.get(subject_id)
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        subject = await session.get(Subject, subject_id)
        assert subject is not None
        assert subject.status == "deleted"
        assert subject.contact_ciphertext is None
        for model in (FaceTemplate, SignInLink):
            count = await session.scalar(
                select(func.count()).select_from(model).where(model.subject_id == subject_id)
            )
            assert count == 0, model
        live = await session.scalar(
            select(func.count())
            .select_from(Consent)
            .where(Consent.subject_id == subject_id, Consent.withdrawn_at.is_(None))
        )
        assert live == 0
        sessions = (
            await session.scalars(
                select(PortalSession).where(PortalSession.subject_id == subject_id)
            )
        ).all()
        assert all(s.ended_at is not None for s in sessions)
    await engine.dispose()


async def test_recovery_code_and_its_rate_limit(world: EnrollmentWorld) -> None:
    enrolled = await _enroll(world)
    await _sign_in(world, recovery_code=enrolled["recovery_code"].lower().replace("-", " "))
    statuses = [
        (
            await world.client.post(
                "/api/v1/portal/sign-in", json={"recovery_code": "AAAAA-BBBBB-CCCCC-DDDDD"}
            )
        ).status_code
        for _ in range(7)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]


async def test_every_personal_table_is_in_the_disclosure() -> None:
    linked = {name for name, entry in REGISTER.items() if entry.subject_link}
    assert linked <= set(COVERED), f"not disclosed: {sorted(linked - set(COVERED))}"


async def test_retention_sweep_deletes_people_past_their_deadline(
    world: EnrollmentWorld,
) -> None:
    enrolled = await _enroll(world)
    subject_id = uuid.UUID(enrolled["subject_id"])
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        early = await sweep(session, world.keys)
        assert early.deleted == 0
        late = await sweep(session, world.keys, now=utcnow() + timedelta(days=30))
        assert late.deleted == 1
        subject = await session.get(Subject, subject_id)
        assert subject is not None
        await session.refresh(subject)
        assert subject.status == "deleted"
    await engine.dispose()
    with pytest.raises(KeyDestroyed):
        world.keys.subjects.get(subject_id)


async def test_no_way_into_someone_elses_data(world: EnrollmentWorld) -> None:
    first = await _enroll(world)
    first_token = _mailed_token(world)
    world.smtp.clear()
    second = await _enroll(world, "kit_harington/kit_harington_1.jpg")
    await _sign_in(world, recovery_code=second["recovery_code"])
    me = (await world.client.get("/api/v1/portal/me")).json()
    # Signed in as the second person: only their data, whatever is asked.
    assert me["subject"]["id"] == second["subject_id"]
    assert first["subject_id"] not in str(me)
    assert (
        await world.client.get("/api/v1/portal/me", params={"subject_id": first["subject_id"]})
    ).json()["subject"]["id"] == second["subject_id"]

    # Forged and tampered cookies, and no cookie, get nothing.
    world.client.cookies.clear()
    for forged in ("optin_portal_" + "A" * 43, "anything", ""):
        response = await world.client.get(
            "/api/v1/portal/me", headers={"cookie": f"optin_session={forged}"}
        )
        assert response.status_code == 401
        assert first["subject_id"] not in response.text

    # An idle session ends; so does one past its absolute limit.
    await _sign_in(world, token=first_token)
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        live = (await session.scalars(select(PortalSession))).all()
        for portal in live:
            portal.last_seen_at = utcnow() - timedelta(hours=1)
        await session.commit()
    await engine.dispose()
    assert (await world.client.get("/api/v1/portal/me")).status_code == 401


async def test_after_deletion_nothing_signs_in(world: EnrollmentWorld) -> None:
    enrolled = await _enroll(world)
    token = _mailed_token(world)
    csrf = await _sign_in(world, recovery_code=enrolled["recovery_code"])
    deleted = await world.client.post("/api/v1/portal/delete", headers={"x-csrf-token": csrf})
    assert deleted.status_code == 200
    for body in ({"token": token}, {"recovery_code": enrolled["recovery_code"]}):
        response = await world.client.post("/api/v1/portal/sign-in", json=body)
        assert response.status_code == 401, body
    assert (await world.client.get("/api/v1/portal/export")).status_code == 401


async def test_retention_sweep_is_exact_and_gates_forget(world: EnrollmentWorld) -> None:
    from optin.services.gates import register_gate

    staying = await _enroll(world)  # trip ends in 5 days
    leaving_response = await world.client.post(
        "/api/v1/enrollments",
        data={
            "notice_id": world.notices["en"],
            "locale": "en",
            "email": "short@example.org",
            "purposes": ["entry"],
            "venues": ["onsen-hotel"],
            "trip_end": date.today().isoformat(),  # deadline: today + 7 days grace
        },
        files={
            "photo": (
                "s.jpg",
                (SAMPLES / "kit_harington" / "kit_harington_1.jpg").read_bytes(),
                "image/jpeg",
            )
        },
    )
    assert leaving_response.status_code == 201
    leaving = uuid.UUID(leaving_response.json()["subject_id"])
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        _, gate_token = await register_gate(session, world.keys.tokens, "onsen-hotel", "Gate")
        await session.commit()
    auth = {"authorization": f"Bearer {gate_token}"}
    before = (await world.client.get("/api/v1/agent/gallery", headers=auth)).json()
    assert len(before["entries"]) == 2

    async with session_factory(engine)() as session:
        # Just after the short stay's deadline, before the long one's.
        result = await sweep(session, world.keys, now=utcnow() + timedelta(days=8, hours=1))
    assert result.deleted == 1
    async with session_factory(engine)() as session:
        statuses = {str(s.id): s.status for s in (await session.scalars(select(Subject))).all()}
    await engine.dispose()
    assert statuses == {staying["subject_id"]: "active", str(leaving): "deleted"}
    delta = (
        await world.client.get(
            "/api/v1/agent/gallery", headers=auth, params={"since": before["sequence"]}
        )
    ).json()
    # Eight days on, the sweep also purged the change log (OPTIN_RETENTION_VENUE_CHANGE_DAYS is
    # 7), so the gate is sent a snapshot: only the person staying is in it.
    assert delta["kind"] == "snapshot"
    assert [e["action"] for e in delta["entries"]] == ["add"]
    assert delta["entries"][0]["ref"] in {e["ref"] for e in before["entries"]}
