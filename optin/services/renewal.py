"""Change of purpose: consent given on an earlier text is set aside until the person renews it.

A notice version can declare that it changes what some of its purposes mean
(``Notice.changed_purposes``). Once that version is in effect, a live consent for such a purpose
that cites an earlier version no longer covers what is done under that purpose: it is marked
``renewal_required_at``, and gates stop using it (optin/services/gallery.py leaves it out) until
the person consents again on the current text. Other purposes are not touched, and the old
consent stays live, so the person can still withdraw it instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final
from uuid import UUID

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optin.db.base import utcnow, uuid7
from optin.db.enums import ChangeAction, Purpose, SubjectStatus
from optin.db.models import Consent, Notice, Subject, Venue
from optin.errors import ConsentRequired, NotFound
from optin.mail.compose import PURPOSE_CHANGE
from optin.runtime import Keys
from optin.services.audit import Actor, record
from optin.services.gallery import changes, record_change
from optin.services.mail_queue import queue_mails
from optin.services.notices import require_current

RENEWAL_METHOD: Final = "portal-renewal"


async def _changed_since(session: AsyncSession, at: datetime) -> dict[Purpose, int]:
    """For each purpose, the newest version in effect at ``at`` that changed its meaning."""
    rows = await session.execute(
        select(Notice.version, Notice.changed_purposes).where(
            Notice.published_at.is_not(None), Notice.effective_at <= at
        )
    )
    # changed_purposes is a JSON list, which the two databases query differently; versions are
    # few, so read them all.
    newest: dict[Purpose, int] = {}
    for version, changed in rows.all():
        for value in changed or ():
            purpose = Purpose(value)
            newest[purpose] = max(newest.get(purpose, 0), version)
    return newest


async def _refresh_galleries(
    session: AsyncSession, keys: Keys, pairs: set[tuple[UUID, UUID]]
) -> set[UUID]:
    """Tell each affected venue's gates about each affected person: the purposes still usable
    there (add), or that none is (revoke). Returns the venues touched (to notify)."""
    if not pairs:
        return set()
    subjects = {subject for subject, _venue in pairs}
    usable = set(
        (
            await session.execute(
                select(Consent.subject_id, Consent.venue_id).where(
                    Consent.subject_id.in_(subjects),
                    Consent.withdrawn_at.is_(None),
                    Consent.renewal_required_at.is_(None),
                )
            )
        ).all()
    )
    venue_ids = {venue for _subject, venue in pairs}
    found = await session.scalars(select(Venue).where(Venue.id.in_(venue_ids)))
    venues = {venue.id: venue for venue in found}
    # One order for every writer: append_venue_change locks venue rows.
    for subject_id, venue_id in sorted(pairs, key=lambda pair: (pair[1], pair[0])):
        action = ChangeAction.ADD if (subject_id, venue_id) in usable else ChangeAction.REVOKE
        await record_change(session, keys.master, [venues[venue_id]], subject_id, action)
    return venue_ids


async def apply_purpose_changes(
    session: AsyncSession, keys: Keys, *, at: datetime | None = None
) -> int:
    """Mark every live consent that a version in effect has outdated; commits, notifies gates.

    Returns how many consents were marked now. Idempotent: a consent is marked once, and one
    already withdrawn is never touched. Safe to run from several processes at once: the marking
    is one conditional UPDATE, so each consent is marked (and each gate change logged) once.
    """
    at = at or utcnow()
    newest = await _changed_since(session, at)
    if not newest:
        return 0
    marked = (
        await session.execute(
            update(Consent)
            .where(
                Consent.withdrawn_at.is_(None),
                Consent.renewal_required_at.is_(None),
                or_(
                    *(
                        and_(Consent.purpose == purpose, Consent.notice_version < version)
                        for purpose, version in newest.items()
                    )
                ),
            )
            .values(renewal_required_at=at)
            .returning(Consent.subject_id, Consent.venue_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    if not marked:
        await session.commit()  # ends the transaction; unlike a rollback, expires nothing
        return 0
    touched = await _refresh_galleries(
        session, keys, {(subject_id, venue_id) for subject_id, venue_id in marked}
    )
    await session.commit()
    changes.notify(touched)
    return len(marked)


async def renew_consent(
    session: AsyncSession,
    keys: Keys,
    subject_id: UUID,
    purpose: Purpose,
    venue_id: UUID | None,
    notice_id: UUID,
) -> list[Consent]:
    """The person consents again, on the current notice, to a purpose that needed renewal.

    ``venue_id`` None renews the purpose at every venue where it needs renewing (and the notice
    names the venue). The old consent is closed (``withdrawn_at``), not changed, so the history
    shows what was agreed on which text; a new consent cites the current notice. Commits and
    tells the venues' gates at once. Returns the new consents.
    """
    notice = await require_current(session, notice_id)
    if purpose.value not in notice.purposes:
        raise ConsentRequired(
            f"the notice does not cover: {purpose.value}", reason="purpose-not-in-notice"
        )
    query = (
        select(Consent)
        .where(
            Consent.subject_id == subject_id,
            Consent.purpose == purpose,
            Consent.withdrawn_at.is_(None),
            Consent.renewal_required_at.is_not(None),
        )
        .order_by(Consent.venue_id)
        # Two renewals at once: the second waits and then finds nothing left to renew.
        .with_for_update()
    )
    if venue_id is not None:
        query = query.where(Consent.venue_id == venue_id)
    outdated: Sequence[Consent] = (await session.scalars(query)).all()
    if not outdated:
        raise NotFound("no consent of yours needs renewing here")
    named = [c for c in outdated if str(c.venue_id) in notice.venue_ids]
    if not named:
        raise ConsentRequired(
            "the current notice does not name this venue", reason="venue-not-in-notice"
        )
    now = utcnow()
    for consent in named:
        consent.withdrawn_at = now
    # Close the old rows before adding new ones: at most one live consent per purpose and venue.
    await session.flush()
    renewed = [
        Consent(
            id=uuid7(),
            subject_id=subject_id,
            purpose=purpose,
            venue_id=consent.venue_id,
            notice_id=notice.id,
            notice_version=notice.version,
            notice_language=notice.language,
            notice_sha256=notice.text_sha256,
            granted_at=now,
            method=RENEWAL_METHOD,
        )
        for consent in named
    ]
    session.add_all(renewed)
    await session.flush()
    touched = await _refresh_galleries(session, keys, {(subject_id, c.venue_id) for c in renewed})
    await session.commit()
    changes.notify(touched)
    return renewed


async def announce_purpose_change(session: AsyncSession, version: int) -> int:
    """Queue the mail telling everyone whose consent notice ``version`` will set aside, before
    it does (acceptance check 30): one row per person, in the caller's transaction, so the
    notice and its announcement commit together (the caller commits, then calls
    ``mail_queue.queued.notify``). The mails go out in the background, in each person's
    language (optin/services/mail_queue.py). Returns how many were queued."""
    notice = await session.scalar(select(Notice).where(Notice.version == version).limit(1))
    if notice is None:
        raise NotFound(f"no notice version {version}")
    changed = [Purpose(p) for p in notice.changed_purposes or ()]
    if not changed:
        return 0
    rows = await session.execute(
        select(Consent.subject_id, Consent.purpose)
        .join(Subject, Subject.id == Consent.subject_id)
        .where(
            Subject.status == SubjectStatus.ACTIVE,
            Consent.withdrawn_at.is_(None),
            Consent.purpose.in_(changed),
            Consent.notice_version < version,
        )
    )
    people: dict[UUID, set[str]] = {}
    for subject_id, purpose in rows.all():
        people.setdefault(subject_id, set()).add(str(Purpose(purpose)))
    count = await queue_mails(
        session, PURPOSE_CHANGE, version, {s: sorted(p) for s, p in people.items()}
    )
    await record(
        session,
        Actor.system(),
        "notice.change_announced",
        details={"version": version, "queued": count},
    )
    return count
