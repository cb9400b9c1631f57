"""Storage limitation: people past their retention deadline are deleted like any deletion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.db.base import utcnow
from optin.db.enums import SubjectStatus
from optin.db.models import Subject
from optin.errors import InvalidInput, NotFound
from optin.runtime import Keys
from optin.services.consents import erase


@dataclass(frozen=True)
class SweepResult:
    deleted: int
    checked_at: datetime


async def sweep(session: AsyncSession, keys: Keys, now: datetime | None = None) -> SweepResult:
    """Erase every active person whose retention deadline has passed (each commits)."""
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
    return SweepResult(deleted=len(due), checked_at=now)


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
