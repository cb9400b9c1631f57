"""Third-party provision (acceptance checks 22 and 23, 11 and 27): only with the person's
consent for that recipient, or a law-enforcement release by a privacy officer on a legal-basis
reference with a minimal data set; each recorded, audited with its hash and disclosed."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import jsonschema
from sqlalchemy import select

from optin.crypto.signing import verify_document
from optin.db.base import utcnow
from optin.db.enums import EventOutcome, OperatorRole, Purpose
from optin.db.models import AuditEntry, Event, Provision, ProvisionConsent
from optin.db.register import PROVISION_RECORD_YEARS, REGISTER
from optin.services.disclosure import disclosure_schema
from optin.services.gates import register_gate
from optin.services.provisions import (
    LAW_ENFORCEMENT_MINIMUM,
    LAW_ENFORCEMENT_NAMED_ONLY,
    PROVIDABLE,
    in_register,
)
from optin.services.retention import sweep, years_before

from support import db_factories as factories
from support.console_world import ConsoleWorld, Operator
from support.enrollment_world import EnrollmentWorld

C = "/api/v1/console"
HOTEL = "onsen-hotel"
TOKYO = ZoneInfo("Asia/Tokyo")
EMAIL = "traveller@example.org"
INSURER = {
    "name": "Kumano Travel Insurance",
    "purpose": "settle claims for missed entries on your trip",
    "items": ["events", "subjects.id"],
    "contact": "1-2-3 Tanabe, Wakayama; claims@insurer.example",
}


async def _audit(world: EnrollmentWorld, action: str) -> list[AuditEntry]:
    async def work(session: Any) -> list[AuditEntry]:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        )
        return list(rows.all())

    result: list[AuditEntry] = await world.in_db(work)
    return result


async def _events(world: EnrollmentWorld, subject_id: str, slug: str, moments: list[str]) -> None:
    """Gate decisions about the person at ``slug`` (ISO times)."""

    async def work(session: Any) -> None:
        gate, _ = await register_gate(session, world.keys.tokens, slug, f"Gate {slug}")
        for moment in moments:
            session.add(
                Event(
                    venue_id=gate.venue_id,
                    gate_id=gate.id,
                    subject_id=UUID(subject_id),
                    purpose=Purpose.ENTRY,
                    outcome=EventOutcome.GRANTED,
                    distance=0.31,
                    occurred_at=datetime.fromisoformat(moment).astimezone(UTC),
                    idempotency_key=secrets.token_hex(16),
                )
            )

    await world.in_db(work)


async def _portal(world: EnrollmentWorld, recovery_code: str) -> str:
    signed = await world.client.post(
        "/api/v1/portal/sign-in", json={"recovery_code": recovery_code}
    )
    assert signed.status_code == 200, signed.text
    return str(signed.json()["csrf_token"])


async def _consent(world: EnrollmentWorld, csrf: str, recipient_id: str, consent: bool) -> Any:
    return await world.client.post(
        "/api/v1/portal/provision-consents",
        json={"recipient_id": recipient_id, "consent": consent},
        headers={"x-csrf-token": csrf},
    )


async def _disclosure(world: EnrollmentWorld) -> dict[str, Any]:
    response = await world.client.get("/api/v1/portal/me")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    jsonschema.validate(document, disclosure_schema())
    return document


async def _register(admin: Operator, body: dict[str, Any] = INSURER) -> dict[str, Any]:
    response = await admin.post(f"{C}/provision-recipients", body)
    assert response.status_code == 201, response.text
    recipient: dict[str, Any] = response.json()
    return recipient


def test_what_can_be_provided_is_named_by_the_register_and_never_a_template() -> None:
    assert all(in_register(name) for name in PROVIDABLE)
    assert not any(name.startswith("face_templates") for name in PROVIDABLE)
    assert set(LAW_ENFORCEMENT_MINIMUM) <= set(PROVIDABLE)
    assert set(PROVIDABLE) >= LAW_ENFORCEMENT_NAMED_ONLY
    assert "subjects.contact_ciphertext" not in LAW_ENFORCEMENT_MINIMUM
    for table in ("provisions", "provision_consents"):
        assert REGISTER[table].subject_link == "subject_id"


async def test_provision_needs_the_persons_consent_for_that_recipient(
    console: ConsoleWorld,
) -> None:
    world = console.world
    enrolled = await world.enroll(email=EMAIL)
    subject_id = enrolled["subject_id"]
    await _events(world, subject_id, HOTEL, ["2026-03-10T10:00:00+09:00"])
    admin_account = await console.account(OperatorRole.ADMINISTRATOR)
    officer_account = await console.account(OperatorRole.PRIVACY_OFFICER)
    async with console.signed_in(admin_account) as admin:
        insurer = await _register(admin)
        other = await _register(admin, {**INSURER, "name": "Someone else"})
        assert (await admin.post(f"{C}/provision-recipients", INSURER)).status_code == 409
        template = await admin.post(
            f"{C}/provision-recipients", {**INSURER, "name": "X", "items": ["face_templates"]}
        )
        assert template.status_code == 400
    # Anyone can see who could ever receive what, and why.
    public = (await world.client.get("/api/v1/provision-recipients")).json()
    assert [r["name"] for r in public] == ["Kumano Travel Insurance", "Someone else"]
    assert {i["name"] for i in public[0]["items"]} == {"events", "subjects.id"}

    async with console.signed_in(officer_account) as officer:
        path = f"{C}/subjects/{subject_id}/provisions"
        # No consent yet: refused, readably, and the attempt is on record.
        refused = await officer.post(path, {"recipient_id": insurer["id"]})
        assert refused.status_code == 409, refused.text
        assert refused.json()["reason"] == "no-provision-consent"
        assert "has not consented to provision to Kumano" in refused.json()["note"]
        (attempt,) = await _audit(world, "subject.provision_refused")
        assert attempt.subject_ref == subject_id
        assert attempt.details["recipient"] == insurer["id"]

        # The person agrees in the portal (CSRF header needed), to this recipient only.
        csrf = await _portal(world, enrolled["recovery_code"])
        no_csrf = await world.client.post(
            "/api/v1/portal/provision-consents",
            json={"recipient_id": insurer["id"], "consent": True},
        )
        assert no_csrf.status_code == 401
        agreed = await _consent(world, csrf, insurer["id"], True)
        assert agreed.status_code == 200, agreed.text
        receipt = agreed.json()
        assert receipt["type"] == "optin.provision-consent-receipt"
        assert receipt["recipient"]["name"] == "Kumano Travel Insurance"
        assert verify_document(receipt, world.keys.signer.verifier)
        # Agreeing twice keeps the first agreement.
        again = await _consent(world, csrf, insurer["id"], True)
        assert again.json()["granted_at"] == receipt["granted_at"]

        assert (await officer.post(path, {"recipient_id": other["id"]})).status_code == 409
        provided = await officer.post(path, {"recipient_id": insurer["id"]})
        assert provided.status_code == 200, provided.text
        content = provided.content
        document = json.loads(content)
        assert document["provision"]["recipient"] == "Kumano Travel Insurance"
        assert document["provision"]["basis"] == {"kind": "consent", "reference": None}
        assert document["provision"]["items"] == ["subjects.id", "events"]
        assert set(document["data"]) == {"subject_id", "events"}
        assert document["data"]["events"][0]["occurred_at"].startswith("2026-03-10T01:00")
        assert EMAIL not in content.decode()
        assert "attachment" in provided.headers["content-disposition"]

        # Recorded with the hash of the exact bytes; audited with hash and destination.
        digest = hashlib.sha256(content).hexdigest()
        (entry,) = await _audit(world, "subject.provided")
        assert entry.subject_ref == subject_id
        assert entry.details["sha256"] == digest
        assert entry.details["recipient"] == "Kumano Travel Insurance"
        assert entry.details["items"] == ["subjects.id", "events"]
        assert entry.details["destination"].startswith("browser download optin-provision-")
        assert entry.details["session"]

        # The person's disclosure lists it, and their consent.
        disclosed = await _disclosure(world)
        (shown,) = disclosed["third_party_provisions"]
        assert shown["recipient"] == "Kumano Travel Insurance"
        assert shown["basis"] == "consent"
        assert shown["items"] == ["subjects.id", "events"]
        assert shown["sha256"] == digest
        assert shown["provided_at"]
        (agreement,) = disclosed["provision_consents"]
        assert agreement["recipient"] == "Kumano Travel Insurance"
        assert agreement["withdrawn_at"] is None
        assert "subject.provided" in {a["action"] for a in disclosed["operator_accesses"]}

        # The officers' record of provisions says who handed what to whom.
        listed = (await officer.get(f"{C}/provisions")).json()
        assert listed[0]["subject_id"] == subject_id
        assert listed[0]["provided_by"] == officer_account.username

        # Withdrawn: no more provision.
        withdrawn = await _consent(world, csrf, insurer["id"], False)
        assert withdrawn.status_code == 200
        assert withdrawn.json()["type"] == "optin.provision-withdrawal-receipt"
        assert (await _consent(world, csrf, insurer["id"], False)).status_code == 404
        assert (await officer.post(path, {"recipient_id": insurer["id"]})).status_code == 409
        assert (await _disclosure(world))["provision_consents"][0]["withdrawn_at"]

    # A retired recipient takes no new consents and receives nothing.
    async with console.signed_in(admin_account) as admin:
        retired = await admin.post(f"{C}/provision-recipients/{other['id']}/retire")
        assert retired.json()["retired_at"]
    assert (await _consent(world, csrf, other["id"], True)).status_code == 409
    public = (await world.client.get("/api/v1/provision-recipients")).json()
    assert [r["name"] for r in public] == ["Kumano Travel Insurance"]


async def test_law_enforcement_release_privacy_officers_only_with_a_basis_and_minimal_data(
    console: ConsoleWorld,
) -> None:
    world = console.world
    enrolled = await world.enroll(email=EMAIL, venues=(HOTEL, "adventure-park"))
    subject_id = enrolled["subject_id"]
    # Today and the day after tomorrow at the hotel, today at the park (Tokyo time); the
    # release covers today and tomorrow at the hotel.
    today = utcnow().astimezone(TOKYO).date()

    def at(day: date, hour: int) -> str:
        return datetime.combine(day, time(hour, 30), TOKYO).isoformat()

    inside = at(today, 9)
    await _events(world, subject_id, HOTEL, [inside, at(today + timedelta(days=2), 9)])
    await _events(world, subject_id, "adventure-park", [at(today, 15)])
    path = f"{C}/subjects/{subject_id}/law-enforcement-release"
    body = {
        "authority": "Wakayama Prefectural Police, Shirahama station",
        "basis_reference": "Warrant No. 2026-117 (Wakayama District Court)",
        "venue": HOTEL,
        "from": today.isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
    }

    # Every other role: 403, audited.
    others = [
        await console.account(OperatorRole.ADMINISTRATOR),
        await console.account(OperatorRole.AUDITOR),
        await console.account(OperatorRole.VENUE_STAFF, venue=HOTEL),
    ]
    for credentials in others:
        async with console.signed_in(credentials) as operator:
            assert (await operator.post(path, body)).status_code == 403
    denied = await _audit(world, "console.denied")
    assert len(denied) == 3
    assert {d.details["permission"] for d in denied} == {"release_to_law_enforcement"}

    officer_account = await console.account(OperatorRole.PRIVACY_OFFICER)
    async with console.signed_in(officer_account) as officer:
        # No legal-basis reference: 400, and the attempt is on record.
        for missing in (
            {k: v for k, v in body.items() if k != "basis_reference"},
            {**body, "basis_reference": "  "},
        ):
            refused = await officer.post(path, missing)
            assert refused.status_code == 400, refused.text
            assert "legal basis reference" in refused.json()["note"]
        assert len(await _audit(world, "subject.release_refused")) == 2
        far = await officer.post(path, {**body, "from": "0001-01-01", "to": "9999-12-31"})
        assert far.status_code == 400
        # Never the template, whatever the paper says.
        template = await officer.post(path, {**body, "named_items": ["face_templates"]})
        assert template.status_code == 400

        released = await officer.post(path, body)
        assert released.status_code == 200, released.text
        content = released.content
        document = json.loads(content)
        provision = document["provision"]
        assert provision["basis"] == {
            "kind": "law_enforcement",
            "reference": "Warrant No. 2026-117 (Wakayama District Court)",
        }
        assert provision["recipient"] == "Wakayama Prefectural Police, Shirahama station"
        assert provision["items"] == ["subjects.id", "consents", "events"]
        # The minimal set: the id, consents at the hotel, the hotel's events in the period.
        data = document["data"]
        assert set(data) == {"subject_id", "consents", "events"}
        assert [e["occurred_at"] for e in data["events"]] == [
            datetime.fromisoformat(inside).astimezone(UTC).isoformat()
        ]
        assert {c["venue"] for c in data["consents"]} == {HOTEL}
        text = content.decode()
        assert EMAIL not in text
        assert "contact" not in data
        assert "template" not in text.lower().replace("face_templates", "")
        assert "distance" not in text

        # Contact only when the basis names it (the officer says so; it is recorded).
        named = await officer.post(path, {**body, "named_items": ["subjects.contact_ciphertext"]})
        assert named.status_code == 200, named.text
        assert json.loads(named.content)["data"]["contact"] == {"email": EMAIL}

    entries = await _audit(world, "subject.provided")
    assert [e.details["basis"] for e in entries] == ["law_enforcement"] * 2
    assert entries[0].details["sha256"] == hashlib.sha256(content).hexdigest()
    assert "Warrant No. 2026-117" in (entries[0].reason or "")

    async def provisions(session: Any) -> list[Provision]:
        rows = await session.scalars(select(Provision).order_by(Provision.provided_at))
        return list(rows.all())

    recorded = await world.in_db(provisions)
    assert [p.basis_reference for p in recorded] == [body["basis_reference"]] * 2
    assert recorded[1].items == ["subjects.id", "consents", "events", "subjects.contact_ciphertext"]

    await _portal(world, enrolled["recovery_code"])
    disclosed = (await _disclosure(world))["third_party_provisions"]
    assert [p["basis"] for p in disclosed] == ["law_enforcement"] * 2
    assert disclosed[0]["basis_reference"] == body["basis_reference"]
    assert disclosed[0]["recipient"] == body["authority"]
    assert disclosed[0]["venue"] == HOTEL
    start = datetime.combine(today, time(0), TOKYO).astimezone(UTC)
    assert datetime.fromisoformat(disclosed[0]["period_start"]) == start


async def test_deleting_yourself_ends_your_provision_consents(console: ConsoleWorld) -> None:
    world = console.world
    enrolled = await world.enroll(email=EMAIL)
    async with console.signed_in(await console.account(OperatorRole.ADMINISTRATOR)) as admin:
        insurer = await _register(admin)
    csrf = await _portal(world, enrolled["recovery_code"])
    assert (await _consent(world, csrf, insurer["id"], True)).status_code == 200
    deleted = await world.client.post("/api/v1/portal/delete", headers={"x-csrf-token": csrf})
    assert deleted.status_code == 200, deleted.text

    async def consents(session: Any) -> list[ProvisionConsent]:
        rows = await session.scalars(
            select(ProvisionConsent).where(
                ProvisionConsent.subject_id == UUID(enrolled["subject_id"])
            )
        )
        return list(rows.all())

    (agreement,) = await world.in_db(consents)
    assert agreement.withdrawn_at is not None


async def test_the_retention_job_purges_provision_records_past_their_keeping_period(
    console: ConsoleWorld,
) -> None:
    world = console.world
    enrolled = await world.enroll(email=EMAIL)
    now = utcnow()
    keeping = years_before(now, PROVISION_RECORD_YEARS)
    # The register states the same period the job purges by.
    assert REGISTER["provisions"].retention.startswith(f"{PROVISION_RECORD_YEARS} years")

    async def record(session: Any) -> dict[str, UUID]:
        officer = factories.operator(OperatorRole.PRIVACY_OFFICER)
        session.add(officer)
        await session.flush()
        ages = {"older": keeping - timedelta(days=1), "younger": keeping + timedelta(days=1)}
        rows = {
            name: Provision(
                subject_id=UUID(enrolled["subject_id"]),
                recipient_name="Wakayama Prefectural Police",
                basis="law_enforcement",
                basis_reference="Warrant 2023-117",
                items=list(LAW_ENFORCEMENT_MINIMUM),
                provided_at=at,
                operator_id=officer.id,
                content_sha256="0" * 64,
            )
            for name, at in ages.items()
        }
        session.add_all(rows.values())
        await session.flush()
        return {name: row.id for name, row in rows.items()}

    ids = await world.in_db(record)
    result = await world.in_db(lambda session: sweep(session, world.keys, now=now))
    assert result.provisions_purged == 1

    async def remaining(session: Any) -> list[UUID]:
        return list((await session.scalars(select(Provision.id))).all())

    assert await world.in_db(remaining) == [ids["younger"]]
