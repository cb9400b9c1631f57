"""Withdrawing consent, and erasing a person: both reach every affected gate at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optin.backup.journal import Withdrawal
from optin.db.base import utcnow
from optin.db.enums import ChangeAction, Purpose
from optin.db.models import (
    Consent,
    Entitlement,
    Event,
    PortalSession,
    ProvisionConsent,
    QueuedMail,
    SignInLink,
    Venue,
)
from optin.errors import NotFound
from optin.runtime import Keys
from optin.services.gallery import changes, record_change
from optin.services.payment_methods import end_payment_if_no_consent, forget_payments
from optin.services.subjects import shred_subject
from optin.services.templates import erase_unused_templates


async def _live_consents(session: AsyncSession, subject_id: UUID) -> Sequence[Consent]:
    return (
        await session.scalars(
            select(Consent).where(Consent.subject_id == subject_id, Consent.withdrawn_at.is_(None))
        )
    ).all()


async def withdraw(
    session: AsyncSession,
    keys: Keys,
    subject_id: UUID,
    *,
    purpose: Purpose | None = None,
    venue_id: UUID | None = None,
    withdrawn_at: datetime | None = None,
) -> list[Consent]:
    """Withdraw the live consents matching ``purpose`` and ``venue_id`` (None: all); commits.

    Each affected venue's gates get a change: a refreshed entry with the purposes left, or a
    revocation when none is left there. Withdrawing the last live consent also deletes the face
    template, in the same transaction; the account stays. The withdrawal is journaled before it
    commits, so a restored backup withdraws it again (``withdrawn_at``: the replay's original
    time; None: now).
    """
    live = await _live_consents(session, subject_id)
    chosen = [
        consent
        for consent in live
        if (purpose is None or consent.purpose == purpose)
        and (venue_id is None or consent.venue_id == venue_id)
    ]
    if not chosen:
        raise NotFound("no such consent to withdraw")
    now = withdrawn_at or utcnow()
    for consent in chosen:
        consent.withdrawn_at = now
    remaining_venues = {c.venue_id for c in live if c.withdrawn_at is None}
    affected = {c.venue_id for c in chosen}
    venues = await session.scalars(select(Venue).where(Venue.id.in_(affected)))
    # Venue by venue in id order, like every writer of the change log (see record_change).
    for venue in sorted(venues, key=lambda venue: venue.id):
        action = ChangeAction.ADD if venue.id in remaining_venues else ChangeAction.REVOKE
        await record_change(session, keys.master, [venue], subject_id, action)
    await end_payment_if_no_consent(session, subject_id)
    await session.flush()
    await erase_unused_templates(session, subject_id)
    # Journaled before the commit (optin.backup.journal): a restored backup must not revive it.
    journaled = [
        Withdrawal(c.id, subject_id, now, purpose=str(c.purpose), venue_id=c.venue_id)
        for c in chosen
    ]
    await asyncio.to_thread(keys.erasures.record_withdrawals, journaled)
    await session.commit()
    changes.notify(affected)
    return chosen


async def erase(session: AsyncSession, keys: Keys, subject_id: UUID) -> None:
    """Delete a person: revoke them at every venue, destroy their data key, strip their rows.

    What stays is what the law or the ledger needs, without personal data: the subject row as a
    tombstone (status deleted, no contact), consent rows as proof of what was agreed (they
    carry no personal data beyond the pseudonymous id), and events with the person removed.
    """
    venue_ids = set(
        (
            await session.scalars(
                select(Consent.venue_id).where(Consent.subject_id == subject_id).distinct()
            )
        ).all()
    )
    venues = (await session.scalars(select(Venue).where(Venue.id.in_(venue_ids)))).all()
    await record_change(session, keys.master, venues, subject_id, ChangeAction.REVOKE)
    now = utcnow()
    await session.execute(
        update(Consent)
        .where(Consent.subject_id == subject_id, Consent.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
    )
    # Agreements to give data to third parties end with the person, like their other consents.
    await session.execute(
        update(ProvisionConsent)
        .where(ProvisionConsent.subject_id == subject_id, ProvisionConsent.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
    )
    await session.execute(
        update(Event).where(Event.subject_id == subject_id).values(subject_id=None)
    )
    await session.execute(delete(Entitlement).where(Entitlement.subject_id == subject_id))
    for model in (SignInLink, PortalSession, QueuedMail):
        await session.execute(delete(model).where(model.subject_id == subject_id))
    # Card token and PIN go; charges stay for the books, without the person.
    await forget_payments(session, subject_id)
    # Journaled before the key goes, outside the database: a restored backup replays it.
    await asyncio.to_thread(keys.erasures.record, subject_id)
    await shred_subject(session, keys.subjects, subject_id)
    await session.commit()
    changes.notify(venue_ids)
