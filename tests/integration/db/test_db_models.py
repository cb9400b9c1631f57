"""Models against real databases: ids, timestamps, constraints, cascades, explicit loading.

Every test runs on SQLite and on PostgreSQL (the ``database_url`` parametrisation).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, InvalidRequestError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import selectinload

from optin.db.base import uuid7_datetime
from optin.db.engine import session_factory
from optin.db.enums import (
    EventOutcome,
    Language,
    OperatorRole,
    Purpose,
    RequestChannel,
    RequestKind,
    SubjectStatus,
)
from optin.db.models import (
    AuditEntry,
    Consent,
    Event,
    FaceTemplate,
    Notice,
    PrivacyRequest,
    Subject,
)

from support import db_factories as factories


async def _expect_integrity_error(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    with pytest.raises(IntegrityError):
        await session.flush()
    await session.rollback()


async def test_ids_are_time_ordered_uuid7(db_session: AsyncSession) -> None:
    subjects = [factories.subject() for _ in range(5)]
    for row in subjects:
        db_session.add(row)
        await db_session.flush()
    await db_session.commit()

    ids = (await db_session.scalars(select(Subject.id).order_by(Subject.id))).all()
    assert ids == [row.id for row in subjects]
    assert all(value.version == 7 for value in ids)
    assert abs(uuid7_datetime(ids[0]) - datetime.now(UTC)) < timedelta(minutes=1)


async def test_timestamps_come_back_aware_utc(db_engine: AsyncEngine) -> None:
    factory = session_factory(db_engine)
    tokyo = datetime(2025, 4, 1, 18, 30, 15, 123456, tzinfo=datetime.now().astimezone().tzinfo)
    async with factory() as session:
        row = factories.subject()
        row.retention_until = tokyo
        session.add(row)
        await session.commit()
        subject_id = row.id

    async with factory() as session:  # a new session reads from the database, not the map
        loaded = await session.get_one(Subject, subject_id)
        for value in (loaded.retention_until, loaded.created_at, loaded.updated_at):
            assert value.tzinfo is UTC
        assert loaded.retention_until == tokyo
        assert abs(loaded.created_at - datetime.now(UTC)) < timedelta(minutes=1)


async def test_time_comparisons_use_utc(db_session: AsyncSession) -> None:
    row = factories.subject()
    row.retention_until = datetime(2025, 4, 1, 0, 0, tzinfo=UTC)
    db_session.add(row)
    await db_session.commit()
    jst = datetime(
        2025, 4, 1, 8, 59, tzinfo=datetime.fromisoformat("2025-01-01T00:00+09:00").tzinfo
    )
    # 08:59 JST is 23:59 UTC the day before: the deadline has not passed yet.
    due = select(func.count()).where(Subject.retention_until <= jst)
    assert await db_session.scalar(due) == 0


async def test_naive_datetimes_are_refused(db_session: AsyncSession) -> None:
    row = factories.subject()
    row.retention_until = datetime(2025, 4, 1)  # naive on purpose
    db_session.add(row)
    with pytest.raises(StatementError, match="naive"):
        await db_session.flush()
    await db_session.rollback()


async def test_updated_at_moves_on_update(db_session: AsyncSession) -> None:
    row = factories.subject()
    db_session.add(row)
    await db_session.commit()
    first = row.updated_at
    row.locale = Language.KO
    await db_session.commit()
    assert row.updated_at > first
    assert row.created_at <= first


async def test_consent_for_a_missing_subject_fails(db_session: AsyncSession) -> None:
    venue, notice = factories.venue(), factories.notice()
    db_session.add_all([venue, notice])
    await db_session.flush()
    await _expect_integrity_error(
        db_session, factories.consent(uuid.uuid4(), venue.id, notice, Purpose.ENTRY)
    )


async def test_unique_constraints_hold(db_session: AsyncSession) -> None:
    db_session.add_all([factories.venue("hotel"), factories.notice(1, Language.JA)])
    await db_session.commit()
    await _expect_integrity_error(db_session, factories.venue("hotel"))
    await _expect_integrity_error(db_session, factories.notice(1, Language.JA))

    venue = factories.venue()
    db_session.add(venue)
    await db_session.flush()
    first = factories.gate(venue.id)
    db_session.add(first)
    await db_session.commit()
    duplicate = factories.gate(venue.id)
    duplicate.token_digest = first.token_digest
    await _expect_integrity_error(db_session, duplicate)


async def test_one_live_consent_per_purpose_and_venue(db_session: AsyncSession) -> None:
    person, venue, notice = factories.subject(), factories.venue(), factories.notice()
    db_session.add_all([person, venue, notice])
    await db_session.flush()
    first = factories.consent(person.id, venue.id, notice, Purpose.ENTRY)
    db_session.add(first)
    await db_session.commit()

    await _expect_integrity_error(
        db_session, factories.consent(person.id, venue.id, notice, Purpose.ENTRY)
    )
    # The rollback expired everything; reload explicitly (async sessions cannot lazy-load).
    for row in (person, venue, notice, first):
        await db_session.refresh(row)
    # Another purpose is fine, and so is consenting again after a withdrawal.
    db_session.add(factories.consent(person.id, venue.id, notice, Purpose.PAYMENT))
    first.withdrawn_at = factories.NOW + timedelta(days=1)
    await db_session.flush()
    db_session.add(factories.consent(person.id, venue.id, notice, Purpose.ENTRY))
    await db_session.commit()
    assert await db_session.scalar(select(func.count()).select_from(Consent)) == 3


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("UPDATE subjects SET locale = 'fr'", "locale outside ja/en/zh/ko"),
        ("UPDATE subjects SET status = 'deleted'", "deleted but key not shredded"),
        ("UPDATE consents SET notice_sha256 = 'abc'", "hash not 64 hex digits"),
        ("UPDATE consents SET purpose = 'marketing'", "unknown purpose"),
    ],
)
async def test_check_constraints_hold(db_session: AsyncSession, sql: str, what: str) -> None:
    person, venue, notice = factories.subject(), factories.venue(), factories.notice()
    db_session.add_all([person, venue, notice])
    await db_session.flush()
    db_session.add(factories.consent(person.id, venue.id, notice, Purpose.ENTRY))
    await db_session.commit()
    with pytest.raises(IntegrityError):
        await db_session.execute(text(sql))
    await db_session.rollback()


async def test_crypto_shredding_state_is_allowed(db_session: AsyncSession) -> None:
    person = factories.subject()
    db_session.add(person)
    await db_session.commit()
    person.contact_ciphertext = None
    person.status = SubjectStatus.DELETED
    person.deleted_at = datetime.now(UTC)
    await db_session.commit()


async def test_venue_staff_need_a_venue(db_session: AsyncSession) -> None:
    await _expect_integrity_error(db_session, factories.operator(OperatorRole.VENUE_STAFF))
    venue = factories.venue()
    db_session.add(venue)
    await db_session.flush()
    db_session.add_all(
        [
            factories.operator(OperatorRole.VENUE_STAFF, venue.id),
            factories.operator(OperatorRole.PRIVACY_OFFICER),
        ]
    )
    await db_session.commit()


async def test_deleting_a_subject_removes_or_unlinks_their_rows(db_session: AsyncSession) -> None:
    person, venue, notice = factories.subject(), factories.venue(), factories.notice()
    db_session.add_all([person, venue, notice])
    await db_session.flush()
    gate = factories.gate(venue.id)
    db_session.add(gate)
    await db_session.flush()
    db_session.add_all(
        [
            factories.consent(person.id, venue.id, notice, Purpose.ENTRY),
            FaceTemplate(subject_id=person.id, model="dlib_resnet_v1", ciphertext=b"\x01enc"),
            Event(
                venue_id=venue.id,
                gate_id=gate.id,
                subject_id=person.id,
                purpose=Purpose.ENTRY,
                outcome=EventOutcome.GRANTED,
                distance=0.31,
                occurred_at=factories.NOW,
                idempotency_key=secrets.token_hex(16),
            ),
            PrivacyRequest(
                subject_id=person.id,
                kind=RequestKind.DELETION,
                channel=RequestChannel.PORTAL,
                received_at=factories.NOW,
                due_at=factories.NOW + timedelta(days=14),
            ),
        ]
    )
    await db_session.commit()

    await db_session.execute(text("DELETE FROM subjects"))
    await db_session.commit()
    db_session.expunge_all()

    assert await db_session.scalar(select(func.count()).select_from(Consent)) == 0
    assert await db_session.scalar(select(func.count()).select_from(FaceTemplate)) == 0
    assert (await db_session.scalars(select(Event.subject_id))).all() == [None]
    assert (await db_session.scalars(select(PrivacyRequest.subject_id))).all() == [None]


async def test_relationships_load_only_when_asked(db_session: AsyncSession) -> None:
    person, venue, notice = factories.subject(), factories.venue(), factories.notice()
    db_session.add_all([person, venue, notice])
    await db_session.flush()
    db_session.add(factories.consent(person.id, venue.id, notice, Purpose.ENTRY))
    await db_session.commit()
    db_session.expunge_all()

    loaded = await db_session.get_one(Subject, person.id)
    with pytest.raises(InvalidRequestError, match="lazy='raise'"):
        _ = loaded.consents
    db_session.expunge_all()

    query = select(Subject).options(selectinload(Subject.consents)).where(Subject.id == person.id)
    with_consents = (await db_session.scalars(query)).one()
    assert [c.purpose for c in with_consents.consents] == [Purpose.ENTRY]


async def test_json_and_enums_round_trip(db_engine: AsyncEngine) -> None:
    factory = session_factory(db_engine)
    async with factory() as session:
        session.add(factories.notice(3, Language.ZH))
        session.add(
            AuditEntry(
                seq=1,
                occurred_at=factories.NOW,
                actor_kind="system",
                action="subject.export",
                details={"rows": 3, "tables": ["consents", "events"], "note": "開示"},
                prev_hash="0" * 64,
                entry_hash="f" * 64,
            )
        )
        await session.commit()
    async with factory() as session:
        notice = (await session.scalars(select(Notice))).one()
        assert notice.language is Language.ZH
        assert notice.purposes == ["entry", "payment"]
        entry = (await session.scalars(select(AuditEntry))).one()
        assert entry.details == {"rows": 3, "tables": ["consents", "events"], "note": "開示"}


async def test_an_event_cannot_claim_another_venue_than_its_gate(db_session: AsyncSession) -> None:
    venue_a, venue_b = factories.venue(), factories.venue()
    db_session.add_all([venue_a, venue_b])
    await db_session.flush()
    gate = factories.gate(venue_a.id)
    db_session.add(gate)
    await db_session.commit()
    gate_id, venue_b_id = gate.id, venue_b.id
    await _expect_integrity_error(
        db_session,
        Event(
            venue_id=venue_b_id,
            gate_id=gate_id,
            purpose=Purpose.ENTRY,
            outcome=EventOutcome.GRANTED,
            distance=0.3,
            occurred_at=factories.NOW,
            idempotency_key=secrets.token_hex(16),
        ),
    )
