"""Mail that many people must get, sent in the background from a durable queue (``mail_queue``).

Queueing happens inside the transaction that makes the mail due (publishing a notice), so the
two commit together: a crash before the commit queues nothing and publishes nothing, a crash
after it leaves every row to be sent later. The sender claims one row at a time (a conditional
UPDATE, so several server workers and ``optin mail send-pending`` can drain the queue at once
without sending a mail twice), commits the claim, sends, then deletes the row. A sender that
dies holding a claim leaves it to expire (``CLAIM_SECONDS``) and another sends it; the only
mail that can go out twice is one whose sender died between the SMTP server accepting it and
the delete committing.

Rows hold whom to tell and what, never an address or a text: the mail is written when it is
sent, in the person's language, from their sealed contact. Someone deleted meanwhile is skipped
(their row is deleted with them, or found without a contact and dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from optin.config import Settings
from optin.db.base import utcnow
from optin.db.engine import begin_writing
from optin.db.enums import Purpose, SubjectStatus
from optin.db.models import Notice, QueuedMail, Subject
from optin.errors import KeyDestroyed, MailDeliveryFailed
from optin.i18n import messages, translator
from optin.mail import MailSender, OutgoingMail
from optin.mail.compose import PURPOSE_CHANGE, purpose_change_mail
from optin.runtime import Keys
from optin.services.subjects import read_contact

#: How long a claimed row is left to its sender before another may take it.
CLAIM_SECONDS: Final = 120.0
#: Failed sends are retried this many times, further apart each time, then given up.
MAX_ATTEMPTS: Final = 8
RETRY_BASE_SECONDS: Final = 30.0
#: How often a server looks for rows queued by other processes (its own wake it at once).
POLL_SECONDS: Final = 30.0
BATCH: Final = 500
log = logging.getLogger(__name__)


class QueueSignal:
    """Wakes this process's sender as soon as it queued mail (the CLI's rows wait a poll)."""

    def __init__(self) -> None:
        # One event per event loop: an asyncio.Event belongs to the loop that first waits on it.
        self._events: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}

    def _event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        for stale in [other for other in self._events if other.is_closed()]:
            del self._events[stale]
        return self._events.setdefault(loop, asyncio.Event())

    def notify(self) -> None:
        self._event().set()

    async def wait(self, seconds: float) -> None:
        event = self._event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        event.clear()


queued = QueueSignal()


async def queue_mails(
    session: AsyncSession, kind: str, notice_version: int, people: Mapping[UUID, Sequence[str]]
) -> int:
    """Queue one mail of ``kind`` per person, in the caller's transaction (the caller commits,
    then calls ``queued.notify``). A person already queued for this kind and version is not
    queued again. Returns how many rows were added."""
    if not people:
        return 0
    already = set(
        await session.scalars(
            select(QueuedMail.subject_id).where(
                QueuedMail.kind == kind, QueuedMail.notice_version == notice_version
            )
        )
    )
    rows = [
        QueuedMail(kind=kind, subject_id=subject, notice_version=notice_version, purposes=list(p))
        for subject, p in people.items()
        if subject not in already
    ]
    session.add_all(rows)
    await session.flush()
    return len(rows)


@dataclass(frozen=True)
class Drained:
    sent: int = 0
    failed: int = 0  # will be retried
    given_up: int = 0
    dropped: int = 0  # nobody to send to any more

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.given_up + self.dropped

    def __add__(self, other: Drained) -> Drained:
        return Drained(
            self.sent + other.sent,
            self.failed + other.failed,
            self.given_up + other.given_up,
            self.dropped + other.dropped,
        )


async def _compose(
    session: AsyncSession, keys: Keys, settings: Settings, row: QueuedMail
) -> OutgoingMail | None:
    """The mail a row stands for, or None when there is no one (left) to send it to."""
    subject = await session.get(Subject, row.subject_id, populate_existing=True)
    if subject is None or subject.status != SubjectStatus.ACTIVE:
        return None
    try:
        address = await read_contact(keys.subjects, subject)
    except KeyDestroyed:  # being deleted this moment (the key goes before the rows)
        return None
    if not address or row.kind != PURPOSE_CHANGE:
        return None
    notice = await session.scalar(
        select(Notice).where(Notice.version == row.notice_version).limit(1)
    )
    if notice is None:
        return None
    lang = str(subject.locale)
    zone = ZoneInfo(settings.console.timezone)
    when = translator(lang).format_datetime(notice.effective_at.astimezone(zone), "long")
    return purpose_change_mail(
        address,
        lang,
        settings.operator,
        effective=when,
        purposes=[messages.PURPOSE_NAMES[Purpose(p)] for p in sorted(row.purposes)],
        portal_link=f"{settings.base_url}/{lang}/portal",
    )


async def _claim(session: AsyncSession, row_id: UUID, now: datetime) -> bool:
    await begin_writing(session)
    claimed = await session.execute(
        update(QueuedMail)
        .where(
            QueuedMail.id == row_id,
            or_(QueuedMail.claimed_until.is_(None), QueuedMail.claimed_until < now),
        )
        .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    return bool(getattr(claimed, "rowcount", 0))


async def _send_one(
    session: AsyncSession, keys: Keys, settings: Settings, mailer: MailSender, row_id: UUID
) -> str:
    """Send one claimed row: 'sent', 'dropped', 'failed' (retried later) or 'given_up'.

    No transaction is open while the mail is handed over: on SQLite a writer would hold the
    whole database for as long as the mail server takes."""
    row = await session.get(QueuedMail, row_id, populate_existing=True)
    mail = await _compose(session, keys, settings, row) if row is not None else None
    attempts = row.attempts + 1 if row is not None else 0
    await session.commit()
    outcome = "dropped"
    values: dict[str, object] | None = None
    if mail is not None:
        try:
            await mailer.send(mail)
            outcome = "sent"
        except MailDeliveryFailed as exc:
            outcome = "failed" if attempts < MAX_ATTEMPTS else "given_up"
            retry_at = utcnow() + timedelta(seconds=RETRY_BASE_SECONDS * 2 ** (attempts - 1))
            values = {"attempts": attempts, "last_error": exc.code, "claimed_until": retry_at}
    await begin_writing(session)
    if outcome == "failed" and values is not None:
        await session.execute(
            update(QueuedMail)
            .where(QueuedMail.id == row_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    else:
        await session.execute(delete(QueuedMail).where(QueuedMail.id == row_id))
    await session.commit()
    return outcome


async def send_pending(
    sessions: async_sessionmaker[AsyncSession],
    keys: Keys,
    settings: Settings,
    mailer: MailSender,
    *,
    limit: int = BATCH,
) -> Drained:
    """Send up to ``limit`` queued mails that no one else is sending; each row is claimed, sent
    and deleted in its own transactions (see the module's docstring)."""
    async with sessions() as session:
        due = list(
            await session.scalars(
                select(QueuedMail.id)
                .where(or_(QueuedMail.claimed_until.is_(None), QueuedMail.claimed_until < utcnow()))
                .order_by(QueuedMail.id)
                .limit(limit)
            )
        )
        await session.commit()
        outcomes = {"sent": 0, "failed": 0, "given_up": 0, "dropped": 0}
        for row_id in due:
            if not await _claim(session, row_id, utcnow()):
                continue  # another sender has it
            outcomes[await _send_one(session, keys, settings, mailer, row_id)] += 1
        drained = Drained(**outcomes)
        if drained.failed or drained.given_up:
            log.warning(
                "queued mail: %d failed (will retry), %d given up after %d attempts",
                drained.failed,
                drained.given_up,
                MAX_ATTEMPTS,
            )
    return drained


async def send_pending_periodically(
    sessions: async_sessionmaker[AsyncSession], keys: Keys, settings: Settings, mailer: MailSender
) -> None:
    """The server's sender: drains the queue when this process queued mail, and every
    ``POLL_SECONDS`` for what other processes (the CLI) queued or a failure left to retry."""
    while True:
        handled = 0
        try:
            handled = (await send_pending(sessions, keys, settings, mailer, limit=BATCH)).handled
        except Exception as exc:  # noqa: BLE001 - a failed round must not stop the server
            log.error("sending queued mail failed: %s", type(exc).__name__)
        if handled < BATCH:  # a full batch: more may be waiting, go on at once
            await queued.wait(POLL_SECONDS)
