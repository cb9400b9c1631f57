"""The retention sweep keeps what the data-lifecycle register promises, table by table.

Parametrised over the register: every table whose rule is ``PurgedAfter`` a period gets an old
row (its period ran out an hour ago) and a young one (an hour to go); the sweep must delete the
first and keep the second. A table given such a rule without a purge, or without rows here,
fails. Real SQLite and real PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from optin.cli import main
from optin.config import RetentionSettings, Settings
from optin.db.base import UUIDPrimaryKey, utcnow, uuid7
from optin.db.engine import session_factory
from optin.db.enums import (
    ChangeAction,
    ChargeStatus,
    EventOutcome,
    LedgerKind,
    OperatorRole,
    ProvisionBasis,
    Purpose,
    RequestChannel,
    RequestKind,
    RequestStatus,
    SubjectStatus,
)
from optin.db.models import (
    Charge,
    Consent,
    Entitlement,
    EntryProduct,
    Event,
    FaceTemplate,
    Gate,
    LedgerEntry,
    Operator,
    OperatorDevice,
    OperatorSession,
    PaymentMethod,
    PaymentPin,
    PortalSession,
    PrivacyRequest,
    Provision,
    ProvisionConsent,
    ProvisionRecipient,
    SignInLink,
    Subject,
    Venue,
    VenueChange,
)
from optin.db.register import REGISTER, Keep, PurgedAfter
from optin.runtime import Keys, open_keys
from optin.services import retention
from optin.services.audit import Actor, checkpoint, record, verify_chain
from optin.services.consents import withdraw
from optin.services.retention import cutoff, purge_rule, sweep
from optin.services.venues import create_venue

from support import db_factories as factories

PURGED_TABLES = sorted(
    name for name, table in REGISTER.items() if isinstance(table.rule, PurgedAfter)
)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class World:
    subject: Subject
    venue: Venue
    gate: Gate
    officer: Operator
    now: datetime
    stay_pass: UUID


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return open_keys(Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")}))


@pytest.fixture
async def world(db_session: AsyncSession, keys: Keys) -> World:
    now = utcnow()
    subject = factories.subject()
    subject.retention_until = now + timedelta(days=30)
    # A real venue key: deleting someone with a consent there revokes them at its gates.
    venue = await create_venue(db_session, keys.master, slug="onsen", name="Onsen")
    officer = factories.operator(OperatorRole.PRIVACY_OFFICER)
    db_session.add_all([subject, officer])
    await db_session.flush()
    gate = factories.gate(venue.id)
    db_session.add(gate)
    stay_pass = await db_session.scalar(
        select(EntryProduct.id).where(EntryProduct.venue_id == venue.id)
    )
    assert stay_pass is not None
    await db_session.commit()
    return World(subject, venue, gate, officer, now, stay_pass)


def _token() -> str:
    return secrets.token_hex(32)


# Rows of each purged table that stopped mattering at ``at`` (last: the row of that table).
Rows = list[UUIDPrimaryKey]


def _event(world: World, at: datetime) -> Rows:
    return [
        Event(
            venue_id=world.venue.id,
            gate_id=world.gate.id,
            subject_id=world.subject.id,
            purpose=Purpose.ENTRY,
            outcome=EventOutcome.GRANTED,
            distance=0.31,
            occurred_at=at,
            idempotency_key=_token(),
        )
    ]


def _expired_link(world: World, at: datetime) -> Rows:
    return [SignInLink(subject_id=world.subject.id, token_digest=_token(), expires_at=at)]


def _ended_portal_session(world: World, at: datetime) -> Rows:
    return [
        PortalSession(
            subject_id=world.subject.id,
            token_digest=_token(),
            csrf_digest=_token(),
            expires_at=at + 4 * HOUR,  # signed out before the limit
            last_seen_at=at,
            ended_at=at,
        )
    ]


def _closed_request(world: World, at: datetime) -> Rows:
    return [
        PrivacyRequest(
            subject_id=world.subject.id,
            kind=RequestKind.ACCESS,
            status=RequestStatus.COMPLETED,
            channel=RequestChannel.PORTAL,
            received_at=at - timedelta(days=5),
            due_at=at + timedelta(days=25),
            closed_at=at,
            outcome="answered",
        )
    ]


def _operator_session(world: World, at: datetime, device: OperatorDevice | None = None) -> Rows:
    return [
        OperatorSession(
            operator_id=world.officer.id,
            token_digest=_token(),
            csrf_digest=_token(),
            expires_at=at + 4 * HOUR,
            last_seen_at=at,
            ended_at=at,
            end_reason="signed_out",
            client_address="192.0.2.10",
            device_id=device.id if device else None,
        )
    ]


def _revoked_device(world: World, at: datetime) -> Rows:
    return [
        OperatorDevice(
            id=uuid7(),
            operator_id=world.officer.id,
            label="front desk laptop",
            registration_digest=_token(),
            registration_expires_at=at - timedelta(days=30),
            registered_at=at - timedelta(days=30),
            token_digest=_token(),
            revoked_at=at,
        )
    ]


def _provision(world: World, at: datetime) -> Rows:
    return [
        Provision(
            subject_id=world.subject.id,
            recipient_name="Wakayama Prefectural Police",
            basis=ProvisionBasis.LAW_ENFORCEMENT,
            basis_reference="Warrant 2023-117",
            items=["events.occurred_at"],
            provided_at=at,
            operator_id=world.officer.id,
            content_sha256="0" * 64,
        )
    ]


def _charge(world: World, at: datetime) -> Rows:
    return [
        Charge(
            id=uuid7(),
            venue_id=world.venue.id,
            gate_id=world.gate.id,
            subject_id=world.subject.id,
            idempotency_key=_token(),
            amount_minor=1200,
            currency="JPY",
            item="Day pass",
            status=ChargeStatus.CAPTURED,
            created_at=at,
        )
    ]


def _ledger_entry(world: World, at: datetime, charge: Charge | None = None) -> Rows:
    # Without a charge given, one too young to go.
    rows: Rows = [] if charge else _charge(world, world.now)
    charged = charge or rows[0]
    assert isinstance(charged, Charge)
    entry = LedgerEntry(
        charge_id=charged.id,
        kind=LedgerKind.CAPTURE,
        amount_minor=1200,
        currency="JPY",
        occurred_at=at,
    )
    return [*rows, entry]


def _venue_change(world: World, at: datetime) -> Rows:
    # Numbers beyond the venue's own (each call its own): gates never see these rows.
    return [
        VenueChange(
            venue_id=world.venue.id,
            seq=1_000_000 + secrets.randbelow(1_000_000),
            action=ChangeAction.REVOKE,
            subject_ref=_token(),
            created_at=at,
        )
    ]


ROWS: dict[str, Callable[[World, datetime], Rows]] = {
    "events": _event,
    "sign_in_links": _expired_link,
    "portal_sessions": _ended_portal_session,
    "privacy_requests": _closed_request,
    "operator_sessions": _operator_session,
    "operator_devices": _revoked_device,
    "provisions": _provision,
    "charges": _charge,
    "ledger_entries": _ledger_entry,
    "venue_changes": _venue_change,
}


def _cutoff(world: World, table: str, periods: RetentionSettings | None = None) -> datetime:
    return cutoff(purge_rule(table), periods or RetentionSettings(), world.now)


async def _add(session: AsyncSession, *groups: Rows) -> None:
    for group in groups:
        session.add_all(group)
        await session.flush()
    await session.commit()


async def _left(session: AsyncSession, *rows: UUIDPrimaryKey) -> list[bool]:
    """For each row: is it still there?"""
    session.expunge_all()
    found = []
    for row in rows:
        model = type(row)
        found.append(await session.scalar(select(model.id).where(model.id == row.id)) is not None)
    return found


@pytest.mark.parametrize("table", PURGED_TABLES)
async def test_the_sweep_purges_an_old_row_and_keeps_a_young_one(
    db_session: AsyncSession, world: World, keys: Keys, table: str
) -> None:
    build = ROWS.get(table)
    if build is None:
        pytest.fail(f"the register says {table} is purged: add its old and young rows to ROWS")
    before = _cutoff(world, table)
    old, young = build(world, before - HOUR), build(world, before + HOUR)
    await _add(db_session, old, young)

    result = await sweep(db_session, keys, world.now)

    assert result.purged[table] == 1
    assert await _left(db_session, old[-1], young[-1]) == [False, True]


async def test_a_configured_period_is_the_one_purged_by(
    db_session: AsyncSession, world: World, keys: Keys
) -> None:
    two_days_old = _event(world, world.now - timedelta(days=2))
    await _add(db_session, two_days_old)

    await sweep(db_session, keys, world.now)
    assert await _left(db_session, *two_days_old) == [True]
    await sweep(db_session, keys, world.now, RetentionSettings(event_days=1))
    assert await _left(db_session, *two_days_old) == [False]


async def test_a_used_link_goes_and_a_live_one_stays(
    db_session: AsyncSession, world: World, keys: Keys
) -> None:
    before = _cutoff(world, "sign_in_links")
    used = SignInLink(
        subject_id=world.subject.id,
        token_digest=_token(),
        expires_at=world.now + HOUR,
        used_at=before - HOUR,
    )
    live = SignInLink(
        subject_id=world.subject.id, token_digest=_token(), expires_at=world.now + HOUR
    )
    await _add(db_session, [used, live])

    await sweep(db_session, keys, world.now)

    assert await _left(db_session, used, live) == [False, True]


async def test_open_requests_are_never_purged(
    db_session: AsyncSession, world: World, keys: Keys
) -> None:
    (ancient,) = _closed_request(world, world.now - timedelta(days=3650))
    assert isinstance(ancient, PrivacyRequest)
    ancient.closed_at = None
    ancient.status = RequestStatus.IN_PROGRESS
    await _add(db_session, [ancient])

    await sweep(db_session, keys, world.now)

    assert await _left(db_session, ancient) == [True]


async def test_a_charge_with_a_kept_ledger_entry_is_kept(
    db_session: AsyncSession, world: World, keys: Keys
) -> None:
    # Bought long ago, refunded recently: the books keep both until the refund's period ends.
    before = _cutoff(world, "charges")
    charge = _charge(world, before - HOUR)
    (sold,) = charge
    assert isinstance(sold, Charge)
    refund = _ledger_entry(world, before + HOUR, sold)
    await _add(db_session, charge, refund)

    result = await sweep(db_session, keys, world.now)

    assert result.purged["charges"] == 0
    assert await _left(db_session, sold, refund[-1]) == [True, True]


async def test_a_device_a_kept_session_names_is_kept(
    db_session: AsyncSession, world: World, keys: Keys
) -> None:
    before = _cutoff(world, "operator_devices")
    device = _revoked_device(world, before - HOUR)
    (revoked,) = device
    assert isinstance(revoked, OperatorDevice)
    session = _operator_session(world, before + HOUR, revoked)
    await _add(db_session, device, session)

    result = await sweep(db_session, keys, world.now)

    assert result.purged["operator_devices"] == 0
    assert await _left(db_session, revoked, session[-1]) == [True, True]


async def test_the_audit_chain_still_verifies_after_a_sweep(
    db_engine: AsyncEngine, db_session: AsyncSession, world: World, keys: Keys
) -> None:
    for action in ("operator.signed_in", "request.closed", "provision.recorded"):
        await record(db_session, Actor.system(), action, subject_id=world.subject.id)
    await checkpoint(db_session, keys.signer)
    await db_session.commit()
    leaving = factories.subject()
    leaving.retention_until = world.now - HOUR
    old = [build(world, _cutoff(world, table) - HOUR) for table, build in ROWS.items()]
    await _add(db_session, [leaving], *old)

    result = await sweep(db_session, keys, world.now)

    assert result.deleted == 1
    assert all(result.purged[table] >= 1 for table in PURGED_TABLES)
    gone = await db_session.get(Subject, leaving.id, populate_existing=True)
    assert gone is not None
    assert gone.status == SubjectStatus.DELETED
    async with session_factory(db_engine)() as fresh:
        report = await verify_chain(fresh, keys.signer.verifier)
    assert report.ok, report.problem
    assert (report.entries, report.checkpoints) == (3, 1)


async def test_the_command_purges_by_the_configured_period_and_counts_per_table(
    database_url: str, db_session: AsyncSession, world: World, tmp_path: Path
) -> None:
    two_days_old = _event(world, world.now - timedelta(days=2))
    await _add(db_session, two_days_old)
    env = {
        "OPTIN_DATA_DIR": str(tmp_path / "data"),
        "OPTIN_DATABASE_URL": database_url,
        "OPTIN_RETENTION_EVENT_DAYS": "1",
    }

    # In a thread: the command runs its own event loop.
    ran = await asyncio.to_thread(CliRunner().invoke, main, ["retention", "run", "--json"], env=env)

    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.output)
    assert report["deleted"] == 0
    assert report["purged"] == {table: int(table == "events") for table in PURGED_TABLES}
    assert await _left(db_session, *two_days_old) == [False]


async def test_a_purge_larger_than_a_batch_deletes_every_old_row_in_batches(
    db_session: AsyncSession, world: World, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "PURGE_BATCH", 2)
    before = _cutoff(world, "events")
    old = [row for i in range(5) for row in _event(world, before - (i + 1) * HOUR)]
    young = _event(world, before + HOUR)
    await _add(db_session, old, young)

    result = await sweep(db_session, keys, world.now)

    assert result.purged["events"] == 5
    assert await _left(db_session, *old, *young) == [False] * 5 + [True]


# --- Tables kept "with the person": deleting the person (here: at their deadline) takes them ---

WITH_PERSON_TABLES = sorted(
    name
    for name, table in REGISTER.items()
    # Kept while consented is also deleted with the person; the tombstone stays.
    if table.rule in {Keep.WITH_PERSON, Keep.WHILE_CONSENTED} and name != "subjects"
)


def _consent(world: World, person: Subject) -> Rows:
    notice = factories.notice(version=secrets.randbelow(10**6) + 1)
    notice.id = uuid7()
    return [notice, factories.consent(person.id, world.venue.id, notice, Purpose.ENTRY)]


def _template(world: World, person: Subject) -> Rows:
    return [FaceTemplate(subject_id=person.id, model="dlib-128", ciphertext=b"\x01sealed")]


def _entitlement(world: World, person: Subject) -> Rows:
    return [
        Entitlement(
            subject_id=person.id,
            venue_id=world.venue.id,
            product_id=world.stay_pass,
            valid_from=world.now - HOUR,
            valid_until=world.now + HOUR,
            source="enrollment",
        )
    ]


def _payment_method(world: World, person: Subject) -> Rows:
    return [
        PaymentMethod(
            subject_id=person.id, provider="sandbox", token_ciphertext=b"\x01", label="Visa 4242"
        )
    ]


def _pin(world: World, person: Subject) -> Rows:
    return [PaymentPin(subject_id=person.id, pin_hash="$argon2id$v=19$placeholder")]


def _provision_consent(world: World, person: Subject) -> Rows:
    recipient = ProvisionRecipient(
        id=uuid7(),
        name=f"Travel Insurance {_token()[:8]}",
        purpose="settle claims",
        items=["events.occurred_at"],
        contact="claims@insurer.example",
    )
    agreed = ProvisionConsent(
        subject_id=person.id, recipient_id=recipient.id, granted_at=world.now - HOUR
    )
    return [recipient, agreed]


PERSON_ROWS: dict[str, Callable[[World, Subject], Rows]] = {
    "consents": _consent,
    "face_templates": _template,
    "entitlements": _entitlement,
    "payment_methods": _payment_method,
    "payment_pins": _pin,
    "provision_consents": _provision_consent,
}


@pytest.mark.parametrize("table", WITH_PERSON_TABLES)
async def test_a_person_past_their_deadline_takes_what_is_kept_with_them(
    db_session: AsyncSession, world: World, keys: Keys, table: str
) -> None:
    build = PERSON_ROWS.get(table)
    if build is None:
        pytest.fail(f"the register keeps {table} with the person: add its rows to PERSON_ROWS")
    leaving = factories.subject()
    leaving.retention_until = world.now - HOUR
    await _add(db_session, [leaving])
    rows = build(world, leaving)
    staying = build(world, world.subject)
    await _add(db_session, rows[:-1], rows[-1:], staying[:-1], staying[-1:])

    assert (await sweep(db_session, keys, world.now)).deleted == 1

    # Deleted, or (consents, kept as proof) withdrawn; the other person's row is untouched.
    model = type(rows[-1])
    link = getattr(model, REGISTER[table].subject_link or "")
    live = select(model.id).where(link == leaving.id)
    if hasattr(model, "withdrawn_at"):
        live = live.where(model.withdrawn_at.is_(None))
    assert (await db_session.scalars(live)).all() == []
    assert await _left(db_session, staying[-1]) == [True]


# --- Tables kept "while consented": withdrawing the last live consent takes them ----------------

WHILE_CONSENTED_TABLES = sorted(
    name for name, table in REGISTER.items() if table.rule is Keep.WHILE_CONSENTED
)


@pytest.mark.parametrize("table", WHILE_CONSENTED_TABLES)
async def test_withdrawing_the_last_consent_takes_what_is_kept_while_consented(
    db_session: AsyncSession, world: World, keys: Keys, table: str
) -> None:
    build = PERSON_ROWS.get(table)
    if build is None:
        pytest.fail(f"the register keeps {table} while consented: add its rows to PERSON_ROWS")
    entry, payment = _consent(world, world.subject), _consent(world, world.subject)
    payment_consent = payment[-1]
    assert isinstance(payment_consent, Consent)
    payment_consent.purpose = Purpose.PAYMENT
    other = factories.subject()
    await _add(db_session, [other])
    rows, others = build(world, world.subject), build(world, other)
    await _add(db_session, entry, payment, rows[:-1], rows[-1:], others[:-1], others[-1:])
    model = type(rows[-1])
    link = getattr(model, REGISTER[table].subject_link or "")
    held = select(model.id).where(link == world.subject.id)

    # One of two withdrawn: kept.
    await withdraw(db_session, keys, world.subject.id, purpose=Purpose.PAYMENT)
    assert len((await db_session.scalars(held)).all()) == 1
    # The last one set aside by a change of purpose (optin/services/renewal.py marks it so) is
    # still live: kept.
    await db_session.execute(
        update(Consent).where(Consent.id == entry[-1].id).values(renewal_required_at=world.now)
    )
    await db_session.commit()
    assert len((await db_session.scalars(held)).all()) == 1
    # The last live consent withdrawn: gone; someone else's rows stay.
    await withdraw(db_session, keys, world.subject.id)
    assert (await db_session.scalars(held)).all() == []
    assert await _left(db_session, others[-1]) == [True]
