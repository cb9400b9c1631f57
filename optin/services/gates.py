"""Gates: registered per venue with a one-time token, authenticated by its HMAC, revocable."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Final
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optin.config import Settings
from optin.crypto.tokens import TokenHasher, has_prefix
from optin.db.base import utcnow, uuid7
from optin.db.models import Gate, Notice, Venue
from optin.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from optin.services.venues import venue_by_slug

GATE_TOKEN_PREFIX: Final = "optin_gate"  # noqa: S105 - the public prefix of gate tokens


async def register_gate(
    session: AsyncSession, tokens: TokenHasher, venue_slug: str, name: str
) -> tuple[Gate, str]:
    """Add a gate; returns it with its token, which is shown once and stored only as an HMAC."""
    if not name.strip():
        raise InvalidInput("a gate needs a name")
    venue = await venue_by_slug(session, venue_slug)
    issued = tokens.issue(GATE_TOKEN_PREFIX)
    gate = Gate(id=uuid7(), venue_id=venue.id, name=name.strip(), token_digest=issued.digest)
    session.add(gate)
    await session.flush()
    return gate, issued.plaintext


async def revoke_gate(session: AsyncSession, gate_id: UUID) -> Gate:
    gate = await session.get(Gate, gate_id)
    if gate is None:
        raise NotFound("no such gate")
    gate.revoked_at = gate.revoked_at or utcnow()
    await session.flush()
    return gate


async def list_gates(session: AsyncSession) -> Sequence[tuple[Gate, Venue]]:
    rows = await session.execute(
        select(Gate, Venue).join(Venue, Venue.id == Gate.venue_id).order_by(Venue.slug, Gate.name)
    )
    return [(gate, venue) for gate, venue in rows.all()]


async def authenticate_gate(
    session: AsyncSession, tokens: TokenHasher, token: str
) -> tuple[Gate, Venue]:
    """The live gate holding ``token``; records that it was seen. ``Unauthorized`` otherwise."""
    if not has_prefix(token, GATE_TOKEN_PREFIX):
        raise Unauthorized("a gate token is required")
    # Write first, in one statement: on SQLite a transaction that reads and then writes fails
    # at once if another connection wrote in between, while one that starts by writing waits.
    seen = await session.execute(
        update(Gate)
        .where(Gate.token_digest == tokens.digest(token), Gate.revoked_at.is_(None))
        .values(last_seen_at=utcnow())
        .returning(Gate.id)
        .execution_options(synchronize_session=False)
    )
    gate_id = seen.scalar_one_or_none()
    await session.commit()
    if gate_id is None:
        raise Unauthorized("unknown or revoked gate token")
    gate, venue = (
        await session.execute(
            select(Gate, Venue).join(Venue, Venue.id == Gate.venue_id).where(Gate.id == gate_id)
        )
    ).one()
    return gate, venue


async def require_notice_lead_time(session: AsyncSession, settings: Settings, venue: Venue) -> None:
    """A venue's gates work only once a notice naming it has been public for the lead time."""
    # venue_ids is a JSON list, which the two databases query differently; notices are few.
    published = [
        notice.published_at
        for notice in await session.scalars(select(Notice).where(Notice.published_at.is_not(None)))
        if str(venue.id) in notice.venue_ids and notice.published_at is not None
    ]
    lead = timedelta(hours=settings.gates.notice_lead_hours)
    if not published or min(published) + lead > utcnow():
        raise Forbidden(
            f"the gates of {venue.slug} start {settings.gates.notice_lead_hours:g} hours after "
            "a notice naming the venue is published",
            reason="notice-lead-time",
        )
