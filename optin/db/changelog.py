"""The per-venue change log: gapless, monotonic sequence numbers that gates long-poll.

A gate asks for ``since=<last seq it saw>``. That is only safe if no row with a lower number can
become visible after a higher one, so numbers are handed out under the venue row's lock and the
lock is held until the caller's transaction ends: the next writer waits, and numbers become
visible in order. A rolled-back transaction rolls its increment back too, so there are no gaps.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optin.db.enums import ChangeAction
from optin.db.models.venues import Venue, VenueChange
from optin.errors import NotFound


async def append_venue_change(
    session: AsyncSession, venue_id: uuid.UUID, action: ChangeAction, subject_ref: str
) -> int:
    """Append one change to ``venue_id``'s log inside the caller's transaction; return its seq.

    The UPDATE takes the venue row's write lock (like ``SELECT ... FOR UPDATE``) on PostgreSQL
    and the database write lock on SQLite, and reads the new value back in the same statement.
    Callers should keep the transaction short: every other writer for this venue waits on it.
    """
    statement = (
        update(Venue)
        .where(Venue.id == venue_id)
        .values(last_change_seq=Venue.last_change_seq + 1)
        .returning(Venue.last_change_seq)
        # The new value is read back; don't evaluate the increment on loaded objects as well.
        .execution_options(synchronize_session=False)
    )
    seq = (await session.execute(statement)).scalar_one_or_none()
    if seq is None:
        raise NotFound(f"venue {venue_id} does not exist")
    session.add(
        VenueChange(
            venue_id=venue_id, seq=seq, action=ChangeAction(action), subject_ref=subject_ref
        )
    )
    await session.flush()
    return seq


async def venue_changes_since(
    session: AsyncSession, venue_id: uuid.UUID, since: int, limit: int = 1000
) -> Sequence[VenueChange]:
    """Changes with ``seq > since`` in sequence order, at most ``limit`` of them."""
    statement = (
        select(VenueChange)
        .where(VenueChange.venue_id == venue_id, VenueChange.seq > since)
        .order_by(VenueChange.seq)
        .limit(limit)
    )
    return (await session.scalars(statement)).all()
