"""Storage limitation: people past their retention deadline are deleted like any deletion, and
records kept for a fixed period (provisions, ``PROVISION_RECORD_YEARS`` in the register) are
purged once it has run out. The app runs ``sweep`` every few minutes; ``optin retention run``
runs it once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.db.base import utcnow
from optin.db.enums import SubjectStatus
from optin.db.models import Provision, Subject
from optin.db.register import PROVISION_RECORD_YEARS
from optin.errors import InvalidInput, NotFound
from optin.runtime import Keys
from optin.services.consents import erase


@dataclass(frozen=True)
class SweepResult:
    deleted: int
    checked_at: datetime
    provisions_purged: int = 0


def years_before(moment: datetime, years: int) -> datetime:
    """The same calendar moment ``years`` earlier (29 February becomes 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


async def purge_provisions(session: AsyncSession, now: datetime) -> int:
    """Delete provision records older than the register's record period; commits."""
    cutoff = years_before(now, PROVISION_RECORD_YEARS)
    purged = await session.execute(delete(Provision).where(Provision.provided_at < cutoff))
    await session.commit()
    return int(getattr(purged, "rowcount", 0) or 0)


async def sweep(session: AsyncSession, keys: Keys, now: datetime | None = None) -> SweepResult:
    """Erase every active person whose retention deadline has passed (each commits), then
    purge the records whose keeping period has run out."""
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
    purged = await purge_provisions(session, now)
    return SweepResult(deleted=len(due), checked_at=now, provisions_purged=purged)


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
