"""Publishing notices and telling which one is current.

A version is published in every language at once, naming the venues and purposes it covers.
Published texts are never edited: a change is a new version, and consent given on an older one
is "outdated" for new enrollments. A version may also declare that it changes what some of its
purposes mean (``changed_purposes``): once it is in effect, consents given on earlier versions
for those purposes need renewing (optin/services/renewal.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.config import Settings
from optin.db.base import utcnow, uuid7
from optin.db.enums import Language, Purpose
from optin.db.models import Notice, Venue
from optin.errors import InvalidInput, NotFound, NoticeOutdated
from optin.notices import LANGUAGES, NoticeVenue, render_notice


async def publish_notices(
    session: AsyncSession,
    settings: Settings,
    venues: Sequence[Venue],
    purposes: Sequence[Purpose] = tuple(Purpose),
    effective_at: datetime | None = None,
    changed_purposes: Sequence[Purpose] = (),
) -> list[Notice]:
    """Publish the next version in all four languages (caller commits).

    ``changed_purposes`` must be among ``purposes``: a version can only change the meaning of
    a purpose it covers.
    """
    if not venues:
        raise InvalidInput("a notice must name at least one venue")
    if not purposes:
        raise InvalidInput("a notice must name at least one purpose")
    changed = list(dict.fromkeys(changed_purposes))
    uncovered = [purpose.value for purpose in changed if purpose not in purposes]
    if uncovered:
        raise InvalidInput(
            "a notice can only change purposes it covers; not covered: " + ", ".join(uncovered)
        )
    now = utcnow()
    named = [NoticeVenue(name=venue.name, slug=venue.slug) for venue in venues]
    # Render every language before writing anything: all four or none.
    rendered = [
        render_notice(language, settings, purposes, named, changed) for language in LANGUAGES
    ]
    version = (await session.scalar(select(func.max(Notice.version))) or 0) + 1
    notices = [
        Notice(
            id=uuid7(),
            version=version,
            language=text.language,
            purposes=[purpose.value for purpose in purposes],
            changed_purposes=[purpose.value for purpose in changed],
            venue_ids=[str(venue.id) for venue in venues],
            title=text.title,
            body=text.body,
            text_sha256=text.sha256,
            effective_at=effective_at or now,
            published_at=now,
        )
        for text in rendered
    ]
    session.add_all(notices)
    await session.flush()
    return notices


async def current_notices(
    session: AsyncSession, language: Language | None = None, at: datetime | None = None
) -> list[Notice]:
    """The newest published version in effect, per language (or just the one asked for)."""
    at = at or utcnow()
    latest = await session.scalar(
        select(func.max(Notice.version)).where(
            Notice.published_at.is_not(None), Notice.effective_at <= at
        )
    )
    if latest is None:
        return []
    query = select(Notice).where(Notice.version == latest)
    if language is not None:
        query = query.where(Notice.language == language)
    return list((await session.scalars(query.order_by(Notice.language))).all())


async def require_current(session: AsyncSession, notice_id: UUID) -> Notice:
    """The notice a person consented on, provided it is still the current one."""
    notice = await session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("no such notice")
    current = await current_notices(session, notice.language)
    if not current or current[0].id != notice.id:
        raise NoticeOutdated(
            "the notice has changed since you opened it; please read the current one",
            current_version=current[0].version if current else None,
        )
    return notice
