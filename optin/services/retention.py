"""Storage limitation: people past their retention deadline are deleted like any deletion, and
records kept for a fixed period are purged once it has run out. Which tables are purged, and
after which period, is the data-lifecycle register's ``PurgedAfter`` rule; the periods are
``RetentionSettings``. The app runs ``sweep`` every few minutes; ``optin retention run`` runs it
once. The audit log is never purged here: its chain must verify from its first entry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from uuid import UUID

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.config import RetentionSettings
from optin.db.base import UUIDPrimaryKey, utcnow
from optin.db.enums import SubjectStatus
from optin.db.models import (
    Charge,
    Event,
    LedgerEntry,
    OperatorDevice,
    OperatorSession,
    PortalSession,
    PrivacyRequest,
    Provision,
    SignInLink,
    Subject,
    VenueChange,
)
from optin.db.register import REGISTER, PurgedAfter
from optin.errors import InvalidInput, NotFound
from optin.runtime import Keys
from optin.services.consents import erase

#: Rows deleted per transaction by a purge.
PURGE_BATCH: Final = 1000

#: Deletes a table's rows that stopped mattering before the cutoff; commits; returns the count.
Purge = Callable[[AsyncSession, datetime], Awaitable[int]]


@dataclass(frozen=True)
class SweepResult:
    deleted: int
    checked_at: datetime
    #: Rows purged per table, for every table the sweep purges (0 included).
    purged: Mapping[str, int] = field(default_factory=dict)

    @property
    def provisions_purged(self) -> int:
        return self.purged.get("provisions", 0)


def years_before(moment: datetime, years: int) -> datetime:
    """The same calendar moment ``years`` earlier (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def cutoff(rule: PurgedAfter, periods: RetentionSettings, now: datetime) -> datetime:
    """The moment before which ``rule``'s period has run out."""
    length = rule.length(periods)
    if rule.unit == "years":
        return years_before(now, length)
    return now - timedelta(days=length)


async def _deleted(
    session: AsyncSession, model: type[UUIDPrimaryKey], *conditions: ColumnElement[bool]
) -> int:
    """Delete ``model``'s rows matching ``conditions``, ``PURGE_BATCH`` per transaction: a first
    sweep over months of gate events must not hold SQLite's write lock (and the gates) for
    seconds."""
    total = 0
    while True:
        batch = select(model.id).where(*conditions).limit(PURGE_BATCH)
        result = await session.execute(
            delete(model)
            .where(model.id.in_(batch.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        deleted = int(getattr(result, "rowcount", 0) or 0)
        total += deleted
        if deleted < PURGE_BATCH:
            return total


async def purge_events(session: AsyncSession, before: datetime) -> int:
    """Gate decisions made before ``before``."""
    return await _deleted(session, Event, Event.occurred_at < before)


async def purge_sign_in_links(session: AsyncSession, before: datetime) -> int:
    """Sign-in links used or expired before ``before``."""
    return await _deleted(
        session, SignInLink, or_(SignInLink.used_at < before, SignInLink.expires_at < before)
    )


async def purge_portal_sessions(session: AsyncSession, before: datetime) -> int:
    """Portal sessions ended (or past their limit) before ``before``."""
    return await _deleted(
        session,
        PortalSession,
        or_(PortalSession.ended_at < before, PortalSession.expires_at < before),
    )


async def purge_privacy_requests(session: AsyncSession, before: datetime) -> int:
    """Privacy requests closed before ``before``; open ones are never purged."""
    return await _deleted(session, PrivacyRequest, PrivacyRequest.closed_at < before)


async def purge_operator_sessions(session: AsyncSession, before: datetime) -> int:
    """Console sessions ended (or past their limit) before ``before``."""
    return await _deleted(
        session,
        OperatorSession,
        or_(OperatorSession.ended_at < before, OperatorSession.expires_at < before),
    )


async def purge_operator_devices(session: AsyncSession, before: datetime) -> int:
    """Devices revoked, or registration codes left unused past expiry, before ``before``; a
    device a kept session still names stays (run after ``purge_operator_sessions``)."""
    named = exists().where(OperatorSession.device_id == OperatorDevice.id)
    return await _deleted(
        session,
        OperatorDevice,
        or_(
            OperatorDevice.revoked_at < before,
            and_(
                OperatorDevice.registered_at.is_(None),
                OperatorDevice.registration_expires_at < before,
            ),
        ),
        ~named,
    )


async def purge_provisions(session: AsyncSession, before: datetime) -> int:
    """Provision records of hand-overs before ``before``."""
    return await _deleted(session, Provision, Provision.provided_at < before)


async def purge_ledger_entries(session: AsyncSession, before: datetime) -> int:
    """Money movements that happened before ``before``."""
    return await _deleted(session, LedgerEntry, LedgerEntry.occurred_at < before)


async def purge_charges(session: AsyncSession, before: datetime) -> int:
    """Charges made before ``before`` whose ledger entries are all purged (a later refund keeps
    its charge; run after ``purge_ledger_entries``)."""
    booked = exists().where(LedgerEntry.charge_id == Charge.id)
    return await _deleted(session, Charge, Charge.created_at < before, ~booked)


async def purge_venue_changes(session: AsyncSession, before: datetime) -> int:
    """Gallery changes logged before ``before``: they name venue pseudonyms, also of people
    deleted since; a gate that synced before the oldest change kept is sent a snapshot
    (optin/services/gallery.py)."""
    return await _deleted(session, VenueChange, VenueChange.created_at < before)


#: Every table the register says is ``PurgedAfter`` a period, and its purge, in the order the
#: sweep runs them: rows that others point at come after those others.
PURGES: Final[Mapping[str, Purge]] = {
    "events": purge_events,
    "sign_in_links": purge_sign_in_links,
    "portal_sessions": purge_portal_sessions,
    "privacy_requests": purge_privacy_requests,
    "operator_sessions": purge_operator_sessions,
    "operator_devices": purge_operator_devices,
    "provisions": purge_provisions,
    "ledger_entries": purge_ledger_entries,
    "charges": purge_charges,
    "venue_changes": purge_venue_changes,
}


def purge_rule(table: str) -> PurgedAfter:
    """The register's period for ``table``; a purge without one is a bug."""
    rule = REGISTER[table].rule
    if not isinstance(rule, PurgedAfter):
        raise TypeError(f"the register does not say {table} is purged after a period")
    return rule


async def purge_expired(
    session: AsyncSession, periods: RetentionSettings, now: datetime
) -> dict[str, int]:
    """Run every purge with the cutoff of its table's register rule; counts per table."""
    return {
        table: await purge(session, cutoff(purge_rule(table), periods, now))
        for table, purge in PURGES.items()
    }


async def sweep(
    session: AsyncSession,
    keys: Keys,
    now: datetime | None = None,
    periods: RetentionSettings | None = None,
) -> SweepResult:
    """Erase every active person whose retention deadline has passed (each commits), then
    purge the records whose keeping period has run out (``periods``: the configured ones)."""
    now = now or utcnow()
    due = (
        await session.scalars(
            select(Subject.id).where(
                Subject.status == SubjectStatus.ACTIVE, Subject.retention_until <= now
            )
        )
    ).all()
    for subject_id in due:
        await erase(session, keys, subject_id)
    purged = await purge_expired(session, periods or RetentionSettings(), now)
    return SweepResult(deleted=len(due), checked_at=now, purged=purged)


async def shorten_retention(session: AsyncSession, subject_id: UUID, until: date) -> datetime:
    """Bring the deadline forward (never back: a longer stay needs fresh consent)."""
    subject = await session.get(Subject, subject_id)
    if subject is None or subject.status != SubjectStatus.ACTIVE:
        raise NotFound("no such person")
    new_deadline = datetime.combine(until, time.max, tzinfo=UTC)
    if new_deadline >= subject.retention_until:
        raise InvalidInput("the new date must be earlier than the current deadline")
    if new_deadline < utcnow() - timedelta(days=1):
        raise InvalidInput("the new date is in the past; delete your data instead")
    subject.retention_until = new_deadline
    await session.commit()
    return new_deadline
