"""The change-of-purpose mail goes through the durable mail queue: queued with the publication,
sent in the background to a real SMTP server, in each person's language, never lost and never
twice; a sender that dies mid-send leaves its row to another once the claim runs out."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import numpy as np
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from optin.config import Settings
from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Language, Purpose
from optin.db.models import Notice, QueuedMail, Venue
from optin.i18n import messages, translator
from optin.mail import MailSender, OutgoingMail, mail_sender_from_settings
from optin.runtime import Keys, open_keys
from optin.services.consents import erase
from optin.services.mail_queue import send_pending
from optin.services.notices import publish_notices
from optin.services.renewal import announce_purpose_change
from optin.services.subjects import create_subject
from optin.services.templates import add_template
from optin.services.venues import create_venue

from support import db_factories as factories
from support.smtp import SmtpServer

LANGUAGES = (Language.EN, Language.JA, Language.ZH, Language.KO)


@dataclass
class Queue:
    settings: Settings
    keys: Keys
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    smtp: SmtpServer
    people: dict[UUID, Language]

    def mailer(self) -> MailSender:
        return mail_sender_from_settings(self.settings)

    async def rows(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(QueuedMail)) or 0)


@pytest.fixture
async def queue(database_url: str, tmp_path: Path, smtp_server: SmtpServer) -> AsyncIterator[Queue]:
    """A venue, notice version 1, and one person per language consenting to entry on it."""
    settings = dataclasses.replace(
        Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")}),
        database_url=database_url,
        mail=smtp_server.mail_settings(),
    )
    settings.ensure_data_dir()
    keys = open_keys(settings)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    people: dict[UUID, Language] = {}
    async with sessions() as session:
        venue = await create_venue(session, keys.master, slug="onsen", name="Onsen")
        notices = await publish_notices(session, settings, [venue])
        by_language = {n.language: n for n in notices}
        for lang in LANGUAGES:
            subject = await create_subject(
                session,
                keys.subjects,
                locale=lang,
                retention_until=utcnow() + timedelta(days=5),
                contact=f"{lang}@example.org",
            )
            await add_template(session, keys.subjects, subject.id, np.zeros(128))
            notice = by_language[lang]
            session.add(
                factories.consent(subject.id, venue.id, notice, Purpose.ENTRY, granted_at=utcnow())
            )
            people[subject.id] = lang
        await session.commit()
    try:
        yield Queue(settings, keys, engine, sessions, smtp_server, people)
    finally:
        await engine.dispose()


async def _publish_change(queue: Queue, *, commit: bool = True) -> int:
    """Version 2, changing what entry means, announced a week ahead (as the console and the CLI
    do it: announcement queued in the publishing transaction)."""
    async with queue.sessions() as session:
        venues = list((await session.scalars(select(Venue))).all())
        published = await publish_notices(
            session,
            queue.settings,
            venues,
            effective_at=utcnow() + timedelta(days=7),
            changed_purposes=[Purpose.ENTRY],
        )
        count = await announce_purpose_change(session, published[0].version)
        if commit:
            await session.commit()
        else:
            await session.rollback()  # the process died before its commit
        return count


async def test_queued_with_the_publication_then_sent_once_in_each_language(queue: Queue) -> None:
    # Dies before committing: neither the notice nor any mail exists.
    assert await _publish_change(queue, commit=False) == 4
    assert await queue.rows() == 0
    async with queue.sessions() as session:
        assert await session.scalar(select(func.max(Notice.version))) == 1

    # Committed, and the publishing process ends without sending (the CLI does that): the rows
    # wait in the database, nothing has gone out.
    assert await _publish_change(queue) == 4
    assert await queue.rows() == 4
    assert queue.smtp.received == []

    # A sender started later, in a fresh engine, sends each person one mail in their language.
    engine = create_engine(queue.settings.database_url)
    try:
        drained = await send_pending(
            session_factory(engine), queue.keys, queue.settings, queue.mailer()
        )
    finally:
        await engine.dispose()
    assert (drained.sent, drained.failed, drained.dropped) == (4, 0, 0)
    mails = queue.smtp.wait_for(4)
    by_address = {mail.message["To"]: mail for mail in mails}
    assert set(by_address) == {f"{lang}@example.org" for lang in LANGUAGES}
    for lang in LANGUAGES:
        t = translator(str(lang))
        mail = by_address[f"{lang}@example.org"]
        assert mail.message["Subject"] == t.gettext(messages.MAIL_PURPOSE_CHANGE_SUBJECT)
        assert t.gettext(messages.PURPOSE_ENTRY) in mail.text
        assert f"{queue.settings.base_url}/{lang}/portal" in mail.text
    assert len({mail.message["Subject"] for mail in mails}) == 4  # four different languages
    assert await queue.rows() == 0

    # Sending again sends nothing more.
    again = await send_pending(queue.sessions, queue.keys, queue.settings, queue.mailer())
    assert again.handled == 0
    await asyncio.sleep(0.3)
    assert len(queue.smtp.received) == 4


async def test_concurrent_senders_never_send_a_mail_twice(queue: Queue) -> None:
    await _publish_change(queue)
    async with queue.sessions() as session:  # announced twice: queued once
        assert await announce_purpose_change(session, 2) == 0
        await session.commit()
    assert await queue.rows() == 4
    engines = [create_engine(queue.settings.database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(
                send_pending(session_factory(e), queue.keys, queue.settings, queue.mailer())
                for e in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(r.sent for r in results) == 4
    await asyncio.sleep(0.3)
    assert sorted(m.message["To"] for m in queue.smtp.received) == sorted(
        f"{lang}@example.org" for lang in LANGUAGES
    )


class _DiesWhileSending:
    """A sender whose process is stopped (its task cancelled) in the middle of the first send."""

    async def send(self, message: OutgoingMail) -> None:
        raise asyncio.CancelledError


async def test_a_sender_that_dies_mid_send_leaves_the_mail_to_another(queue: Queue) -> None:
    await _publish_change(queue)
    with pytest.raises(asyncio.CancelledError):
        await send_pending(queue.sessions, queue.keys, queue.settings, _DiesWhileSending())
    assert await queue.rows() == 4
    # Its claim still holds: a second sender leaves that row alone and sends the other three.
    second = await send_pending(queue.sessions, queue.keys, queue.settings, queue.mailer())
    assert second.sent == 3
    assert await queue.rows() == 1
    # Once the claim has run out, the mail goes out (once).
    async with queue.sessions() as session:
        await session.execute(
            update(QueuedMail).values(claimed_until=utcnow() - timedelta(seconds=1))
        )
        await session.commit()
    third = await send_pending(queue.sessions, queue.keys, queue.settings, queue.mailer())
    assert third.sent == 1
    assert len(queue.smtp.wait_for(4)) == 4
    assert await queue.rows() == 0


async def test_a_refused_mail_is_retried_later_and_a_deleted_person_gets_none(
    queue: Queue,
) -> None:
    await _publish_change(queue)
    ja, ko = (s for s, lang in queue.people.items() if lang in (Language.JA, Language.KO))
    queue.smtp.refuse_recipients.add("ja@example.org")
    async with queue.sessions() as session:
        await erase(session, queue.keys, ko)
    first = await send_pending(queue.sessions, queue.keys, queue.settings, queue.mailer())
    assert (first.sent, first.failed) == (2, 1)  # en and zh; ja refused; ko deleted: no row
    async with queue.sessions() as session:
        (row,) = (await session.scalars(select(QueuedMail))).all()
    assert (row.subject_id, row.attempts, row.last_error) == (ja, 1, "mail-failed")
    assert row.claimed_until is not None
    assert row.claimed_until > utcnow()  # backs off before the retry

    queue.smtp.refuse_recipients.clear()
    async with queue.sessions() as session:
        await session.execute(update(QueuedMail).values(claimed_until=None))
        await session.commit()
    retried = await send_pending(queue.sessions, queue.keys, queue.settings, queue.mailer())
    assert retried.sent == 1
    assert sorted(m.message["To"] for m in queue.smtp.wait_for(3)) == [
        "en@example.org",
        "ja@example.org",
        "zh@example.org",
    ]
    assert await queue.rows() == 0
