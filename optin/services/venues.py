"""Venues: the places whose gates recognise enrolled people, each with its own venue key."""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optin.crypto.data_keys import DataKey, wrap_data_key
from optin.crypto.keys import KeyProvider
from optin.crypto.venue_keys import VENUE_KEY_OWNER
from optin.db.base import uuid7
from optin.db.models import Venue
from optin.errors import Conflict, InvalidInput, NotFound, UnknownVenue
from optin.services.entitlements import STAY_PASS, add_product

_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


async def create_venue(
    session: AsyncSession,
    master_keys: KeyProvider,
    *,
    slug: str,
    name: str,
    timezone: str = "Asia/Tokyo",
) -> Venue:
    """Add a venue with a fresh venue key (for its pseudonyms and gallery transform)."""
    if not _SLUG.fullmatch(slug):
        raise InvalidInput("a venue slug is lower-case letters, digits and dashes (1-64)")
    if not name.strip():
        raise InvalidInput("a venue needs a name")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"unknown time zone {timezone!r}") from None
    if await session.scalar(select(Venue.id).where(Venue.slug == slug)) is not None:
        raise Conflict(f"a venue with slug {slug!r} exists already")
    venue = Venue(id=uuid7(), slug=slug, name=name.strip(), timezone=timezone)
    venue_key = DataKey(secrets.token_bytes(32))
    venue.transform_key_wrapped = wrap_data_key(
        master_keys, venue_key, venue.id, owner_kind=VENUE_KEY_OWNER
    )
    session.add(venue)
    await session.flush()
    # Every venue starts with the pass that comes with enrollment, valid for the whole stay.
    await add_product(
        session,
        venue,
        code=STAY_PASS,
        name="Stay pass (included with enrollment)",
        valid_days=None,
        included_with_enrollment=True,
    )
    return venue


async def list_venues(session: AsyncSession) -> Sequence[Venue]:
    return (await session.scalars(select(Venue).order_by(Venue.slug))).all()


async def venues_by_slug(session: AsyncSession, slugs: Sequence[str]) -> list[Venue]:
    """The venues named, in the order given; ``UnknownVenue`` names any that do not exist."""
    wanted = list(dict.fromkeys(slugs))
    found = {
        venue.slug: venue
        for venue in await session.scalars(select(Venue).where(Venue.slug.in_(wanted)))
    }
    missing = [slug for slug in wanted if slug not in found]
    if missing:
        raise UnknownVenue(f"unknown venue: {', '.join(missing)}", venues=", ".join(missing))
    return [found[slug] for slug in wanted]


async def venue_by_slug(session: AsyncSession, slug: str) -> Venue:
    """The venue a URL names; ``NotFound`` (404) when there is none. A venue named in a request's
    body is input instead: ``venues_by_slug`` refuses it as ``UnknownVenue`` (422)."""
    venue: Venue | None = await session.scalar(select(Venue).where(Venue.slug == slug))
    if venue is None:
        raise NotFound(f"no such venue: {slug}")
    return venue


async def venue_id_or_none(session: AsyncSession, slug: str | None) -> UUID | None:
    """The id of the venue a request names, or None when it names none ("every venue")."""
    return (await venues_by_slug(session, [slug]))[0].id if slug else None


async def venues_by_id(session: AsyncSession, ids: Sequence[UUID]) -> list[Venue]:
    return list((await session.scalars(select(Venue).where(Venue.id.in_(ids)))).all())


async def rotate_venue_key(session: AsyncSession, master_keys: KeyProvider, slug: str) -> int:
    """Give the venue a new key (new pseudonyms, new transform): its gallery is re-issued.

    Takes the next change-log number under the venue row's lock, so every gate's next gallery
    request (long-polling ones at once) gets a fresh snapshot; returns that number. Commits.
    """
    venue = await venue_by_slug(session, slug)
    venue.transform_key_wrapped = wrap_data_key(
        master_keys, DataKey(secrets.token_bytes(32)), venue.id, owner_kind=VENUE_KEY_OWNER
    )
    seq = (
        await session.execute(
            update(Venue)
            .where(Venue.id == venue.id)
            .values(last_change_seq=Venue.last_change_seq + 1)
            .returning(Venue.last_change_seq)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    venue.key_rotated_seq = seq
    await session.commit()
    return int(seq)
