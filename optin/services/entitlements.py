"""Entry products and entitlements: who may enter which venue without a ticket, until when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.db.base import uuid7
from optin.db.enums import SubjectStatus
from optin.db.models import Entitlement, EntryProduct, Subject, Venue
from optin.errors import Conflict, InvalidInput, NotFound

STAY_PASS: Final = "stay-pass"  # noqa: S105 - a product code
ENROLLMENT: Final = "enrollment"
PURCHASE: Final = "purchase"


async def add_product(
    session: AsyncSession,
    venue: Venue,
    *,
    code: str,
    name: str,
    valid_days: int | None,
    included_with_enrollment: bool = False,
) -> EntryProduct:
    if valid_days is not None and valid_days <= 0:
        raise InvalidInput("valid_days must be positive")
    taken = await session.scalar(
        select(EntryProduct.id).where(EntryProduct.venue_id == venue.id, EntryProduct.code == code)
    )
    if taken is not None:
        raise Conflict(f"{venue.slug} already has a product {code!r}")
    product = EntryProduct(
        id=uuid7(),
        venue_id=venue.id,
        code=code,
        name=name,
        valid_days=valid_days,
        included_with_enrollment=included_with_enrollment,
    )
    session.add(product)
    await session.flush()
    return product


async def grant_enrollment_entitlements(
    session: AsyncSession,
    subject_id: UUID,
    venues: Sequence[Venue],
    valid_from: datetime,
    trip_end: datetime,
) -> list[Entitlement]:
    """Grant every product a venue includes with enrollment, valid until the trip ends."""
    products = (
        await session.scalars(
            select(EntryProduct).where(
                EntryProduct.venue_id.in_([v.id for v in venues]),
                EntryProduct.included_with_enrollment.is_(True),
            )
        )
    ).all()
    granted = [
        Entitlement(
            id=uuid7(),
            subject_id=subject_id,
            venue_id=product.venue_id,
            product_id=product.id,
            valid_from=valid_from,
            valid_until=trip_end,
            source=ENROLLMENT,
        )
        for product in products
    ]
    session.add_all(granted)
    await session.flush()
    return granted


async def entry_until(
    session: AsyncSession, venue_id: UUID, subject_ids: Sequence[UUID], at: datetime
) -> dict[UUID, datetime]:
    """For each subject, the end of their latest entitlement at the venue valid at ``at``."""
    rows = await session.execute(
        select(Entitlement.subject_id, Entitlement.valid_until).where(
            Entitlement.venue_id == venue_id,
            Entitlement.subject_id.in_(subject_ids),
            Entitlement.valid_from <= at,
            Entitlement.valid_until > at,
        )
    )
    until: dict[UUID, datetime] = {}
    for subject_id, valid_until in rows.all():
        if subject_id not in until or valid_until > until[subject_id]:
            until[subject_id] = valid_until
    return until


async def grant_product(
    session: AsyncSession,
    subject_id: UUID,
    venue: Venue,
    code: str,
    valid_from: datetime,
) -> Entitlement:
    """Grant a bought product (e.g. a day pass) to an enrolled person (caller commits and then
    records a gallery change so the venue's gates learn the new entry date)."""
    subject = await session.get(Subject, subject_id)
    if subject is None or subject.status != SubjectStatus.ACTIVE:
        raise NotFound("no enrolled person with that id")
    product = await session.scalar(
        select(EntryProduct).where(EntryProduct.venue_id == venue.id, EntryProduct.code == code)
    )
    if product is None:
        raise InvalidInput(f"{venue.slug} has no product {code!r}")
    if product.valid_days is None:
        raise InvalidInput(f"{code!r} comes with enrollment and cannot be bought")
    entitlement = Entitlement(
        id=uuid7(),
        subject_id=subject_id,
        venue_id=venue.id,
        product_id=product.id,
        valid_from=valid_from,
        valid_until=valid_from + timedelta(days=product.valid_days),
        source=PURCHASE,
    )
    session.add(entitlement)
    await session.flush()
    return entitlement
