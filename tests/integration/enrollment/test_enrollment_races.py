"""Enrollments and deletions at the same time (found by the load benchmark, benchmarks/load.py):
no 410 for someone else's deletion, no deadlock between change-log writers, and a transaction the
database aborts to break a deadlock is a 503 to retry, never a 500."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from enrollment_app.problems import DATABASE_RETRY_AFTER
from optin.db.engine import create_engine, session_factory
from optin.db.enums import ChangeAction
from optin.db.models import Venue, VenueChange
from optin.services.gallery import record_change

from support.enrollment_world import EnrollmentWorld
from support.served_app import served

POSTGRES_ONLY = pytest.mark.parametrize(
    "db_backend", [pytest.param("postgres", marks=pytest.mark.postgres)]
)
BOTH_VENUES = ("onsen-hotel", "adventure-park")


@pytest.fixture
async def sessions(world: EnrollmentWorld) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(world.settings.database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _until_a_request_waits_for_a_lock(spy: AsyncSession) -> None:
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(400):
        if await spy.scalar(waiting):
            return
        await spy.rollback()  # a fresh snapshot of the activity
        await asyncio.sleep(0.02)
    raise AssertionError("no request came to wait for the venue's lock")


async def _venues_by_id(session: AsyncSession) -> list[Venue]:
    return list(await session.scalars(select(Venue).order_by(Venue.id)))


async def test_an_enrollment_while_someone_is_being_deleted_is_not_refused(
    world: EnrollmentWorld,
) -> None:
    """A deletion destroys the key before its rows commit: the duplicate check then still finds
    that person active. It must leave them out, not answer 410 to a stranger."""
    obama = uuid.UUID((await world.enroll("obama/obama_4.jpg"))["subject_id"])
    assert world.keys.subjects.destroy(obama)  # the deletion's first step, not yet committed
    kit = await world.enroll("kit_harington/kit_harington_1.jpg", email="kit@example.org")
    assert kit["subject_id"] != str(obama)


@POSTGRES_ONLY
async def test_change_log_writers_lock_venues_in_one_order(
    world: EnrollmentWorld, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two writers naming the same venues in different orders (an enrollment's request order, a
    deletion's query order) must not deadlock: both lock them in id order."""
    async with sessions() as first, sessions() as second:
        low, high = await _venues_by_id(first)
        master = world.keys.master
        await record_change(first, master, [low], uuid.uuid4(), ChangeAction.ADD)  # holds low
        # Given high first: locking in that order would hold high while waiting for low.
        waiting = asyncio.create_task(
            record_change(second, master, [high, low], uuid.uuid4(), ChangeAction.ADD)
        )
        await asyncio.sleep(0.5)
        assert not waiting.done()  # waits for the first writer
        await record_change(first, master, [high], uuid.uuid4(), ChangeAction.REVOKE)
        await first.commit()
        await asyncio.wait_for(waiting, 10)
        await second.commit()
        logged = await second.scalars(select(VenueChange.seq).where(VenueChange.venue_id == low.id))
        assert sorted(logged) == [1, 2]


@POSTGRES_ONLY
async def test_a_deadlock_victim_answers_503_to_retry(
    world: EnrollmentWorld, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Should a request still be chosen as a deadlock's victim (here by a writer outside the
    app locking in the wrong order), PostgreSQL aborts its transaction: nothing was changed and
    a retry will do, so 503 with Retry-After, like a database that is away."""
    enrolled = await world.enroll(venues=BOTH_VENUES)
    # Served for real: the in-process test client runs one request at a time.
    with served(world.env()) as base:
        async with httpx.AsyncClient(base_url=base) as client:
            signed_in = await client.post(
                "/api/v1/portal/sign-in", json={"recovery_code": enrolled["recovery_code"]}
            )
            portal = {"x-csrf-token": signed_in.json()["csrf_token"]}
            async with sessions() as outsider, sessions() as spy:
                await spy.connection()  # connected now: the moment to act below is short
                low, high = await _venues_by_id(outsider)
                bump = update(Venue).values(last_change_seq=Venue.last_change_seq)
                await outsider.execute(bump.where(Venue.id == high.id))
                deletion = asyncio.create_task(client.post("/api/v1/portal/delete", headers=portal))
                await _until_a_request_waits_for_a_lock(spy)  # the deletion holds low, waits
                # Within PostgreSQL's deadlock_timeout (1 s) of the deletion's wait: its deadlock
                # check comes first, finds the cycle and aborts the deletion.
                await outsider.execute(bump.where(Venue.id == low.id))
                await outsider.commit()
                answer = await deletion
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == str(DATABASE_RETRY_AFTER)
            assert answer.json()["code"] == "database-unavailable"
            me = await client.get("/api/v1/portal/me")
            assert me.status_code == 200  # nothing was deleted; the person may simply try again
