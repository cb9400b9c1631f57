"""The per-venue change log hands out gapless, increasing numbers, also under concurrency."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.db.changelog import append_venue_change, venue_changes_since
from optin.db.engine import create_engine, session_factory
from optin.db.enums import ChangeAction
from optin.db.models import Venue, VenueChange
from optin.errors import NotFound

from support import db_factories as factories

CONCURRENT_APPENDS = 20


async def _new_venue(session: AsyncSession) -> uuid.UUID:
    venue = factories.venue()
    session.add(venue)
    await session.commit()
    return venue.id


async def test_sequence_starts_at_one_and_counts_per_venue(db_session: AsyncSession) -> None:
    first, second = await _new_venue(db_session), await _new_venue(db_session)
    async with db_session.begin():
        assert await append_venue_change(db_session, first, ChangeAction.ADD, "ref-a") == 1
        assert await append_venue_change(db_session, first, ChangeAction.ADD, "ref-b") == 2
        assert await append_venue_change(db_session, second, ChangeAction.ADD, "ref-c") == 1
        assert await append_venue_change(db_session, first, ChangeAction.REVOKE, "ref-a") == 3

    changes = await venue_changes_since(db_session, first, since=1)
    assert [(c.seq, c.action, c.subject_ref) for c in changes] == [
        (2, ChangeAction.ADD, "ref-b"),
        (3, ChangeAction.REVOKE, "ref-a"),
    ]
    assert await venue_changes_since(db_session, first, since=3) == []
    assert len(await venue_changes_since(db_session, first, since=0, limit=2)) == 2


async def test_unknown_venue(db_session: AsyncSession) -> None:
    with pytest.raises(NotFound):
        await append_venue_change(db_session, uuid.uuid4(), ChangeAction.ADD, "ref")
    await db_session.rollback()


async def test_a_rolled_back_append_leaves_no_gap(db_session: AsyncSession) -> None:
    venue_id = await _new_venue(db_session)
    async with db_session.begin():
        await append_venue_change(db_session, venue_id, ChangeAction.ADD, "ref-1")
    transaction = await db_session.begin()
    assert await append_venue_change(db_session, venue_id, ChangeAction.ADD, "ref-x") == 2
    await transaction.rollback()
    async with db_session.begin():
        assert await append_venue_change(db_session, venue_id, ChangeAction.ADD, "ref-2") == 2


async def test_concurrent_appends_are_gapless_and_unique(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=CONCURRENT_APPENDS, max_overflow=0)
    factory = session_factory(engine)
    try:
        async with factory() as session:
            venue_id = await _new_venue(session)

        async def append(n: int) -> int:
            async with factory() as session, session.begin():
                seq = await append_venue_change(session, venue_id, ChangeAction.ADD, f"ref-{n}")
                await asyncio.sleep(0.005)  # hold the lock a moment so appends really overlap
                return seq

        seqs = await asyncio.gather(*(append(n) for n in range(CONCURRENT_APPENDS)))
        assert sorted(seqs) == list(range(1, CONCURRENT_APPENDS + 1))

        async with factory() as session:
            stored = (
                await session.scalars(select(VenueChange.seq).order_by(VenueChange.seq))
            ).all()
            assert stored == list(range(1, CONCURRENT_APPENDS + 1))
            venue = await session.get_one(Venue, venue_id)
            assert venue.last_change_seq == CONCURRENT_APPENDS
    finally:
        await engine.dispose()


async def test_a_later_number_waits_for_the_earlier_commit(database_url: str) -> None:
    # What makes `since=seq` long-polling safe: while seq 1 is uncommitted, nobody can take 2,
    # so a reader that has seen 2 can never later find a freshly committed 1. (PostgreSQL: the
    # venue row lock; SQLite: the database write lock, waited for through busy_timeout.)
    engine = create_engine(database_url)
    factory = session_factory(engine)
    try:
        async with factory() as session:
            venue_id = await _new_venue(session)

        async with factory() as first:
            await first.begin()
            assert await append_venue_change(first, venue_id, ChangeAction.ADD, "first") == 1

            async def second_append() -> int:
                async with factory() as second, second.begin():
                    return await append_venue_change(second, venue_id, ChangeAction.ADD, "2nd")

            second = asyncio.create_task(second_append())
            await asyncio.sleep(0.3)
            assert not second.done(), "the second append did not wait for the first to commit"
            async with factory() as reader:
                assert await venue_changes_since(reader, venue_id, since=0) == []
            await first.commit()
            assert await asyncio.wait_for(second, timeout=10) == 2
    finally:
        await engine.dispose()
