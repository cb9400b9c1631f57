"""Decisions reported by gates: only about enrolled people, each stored once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from optin.crypto.keys import KeyProvider
from optin.db.base import uuid7
from optin.db.enums import EventOutcome, Purpose, SubjectStatus
from optin.db.models import Consent, Event, Gate, Subject, Venue
from optin.errors import InvalidInput
from optin.services.gallery import venue_key

MAX_EVENTS_PER_BATCH = 500


@dataclass(frozen=True)
class GateEvent:
    id: UUID
    ref: str
    purpose: Purpose
    outcome: EventOutcome
    distance: float
    occurred_at: datetime


@dataclass(frozen=True)
class EventReceipt:
    accepted: int
    duplicates: int
    unknown: int


async def record_gate_events(
    session: AsyncSession,
    master: KeyProvider,
    gate: Gate,
    venue: Venue,
    events: Sequence[GateEvent],
) -> EventReceipt:
    """Store each event once (the gate's event id is the idempotency key; commits).

    An event whose pseudonym matches nobody who ever consented here (a deleted person, or a
    forged report) is dropped: events exist only about enrolled people.
    """
    if len(events) > MAX_EVENTS_PER_BATCH:
        raise InvalidInput(f"at most {MAX_EVENTS_PER_BATCH} events per request")
    vkey = venue_key(master, venue)
    # People who consented here and still exist: an event arriving after someone's deletion
    # must not be tied to them again.
    subject_ids = (
        await session.scalars(
            select(Consent.subject_id)
            .join(Subject, Subject.id == Consent.subject_id)
            .where(Consent.venue_id == venue.id, Subject.status == SubjectStatus.ACTIVE)
            .distinct()
        )
    ).all()
    by_ref = {vkey.pseudonym(subject_id): subject_id for subject_id in subject_ids}
    rows = [
        {
            "id": uuid7(),
            "venue_id": venue.id,
            "gate_id": gate.id,
            "subject_id": by_ref[event.ref],
            "purpose": event.purpose,
            "outcome": event.outcome,
            "distance": event.distance,
            "occurred_at": event.occurred_at,
            # Scoped to the gate: two gates can never collide, one gate can never double-count.
            "idempotency_key": f"{gate.id}:{event.id}",
        }
        for event in events
        if event.ref in by_ref
    ]
    unknown = len(events) - len(rows)
    if not rows:
        return EventReceipt(0, 0, unknown)
    # End the reading transaction so the insert starts a writing one (SQLite waits for a
    # write lock it starts with, but fails at once on upgrading a read).
    await session.commit()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(Event)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Event.id)
    )
    inserted = len((await session.execute(statement)).all())
    await session.commit()
    return EventReceipt(inserted, len(rows) - inserted, unknown)
