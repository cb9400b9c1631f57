"""`optin notice publish --changes-purpose ... [--effective-at ...]` as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import numpy as np
from sqlalchemy import select

from optin.config import Settings
from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Language, Purpose
from optin.db.models import Consent, Notice, Venue
from optin.runtime import open_keys
from optin.services.subjects import create_subject
from optin.services.templates import add_template

from support import db_factories as factories
from support.smtp import SmtpServer, smtp_server  # noqa: F401 - a pytest fixture


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    env["OPTIN_DATA_DIR"] = str(tmp_path / "data")
    return env


def _optin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optin", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def _consenting_person(settings: Settings, contact: str | None = None) -> UUID:
    """Someone who agreed to entry and payment at the venue on the current (English) notice."""
    keys = open_keys(settings)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            venue = (await session.scalars(select(Venue))).one()
            notice = (
                await session.scalars(select(Notice).where(Notice.language == Language.EN))
            ).one()
            subject = await create_subject(
                session,
                keys.subjects,
                locale=Language.EN,
                retention_until=utcnow() + timedelta(days=5),
                contact=contact,
            )
            await add_template(session, keys.subjects, subject.id, np.zeros(128))
            for purpose in (Purpose.ENTRY, Purpose.PAYMENT):
                session.add(
                    factories.consent(subject.id, venue.id, notice, purpose, granted_at=utcnow())
                )
            await session.commit()
            return subject.id
    finally:
        await engine.dispose()


async def _renewal_marks(settings: Settings, subject_id: UUID) -> dict[str, bool]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            consents = (
                await session.scalars(select(Consent).where(Consent.subject_id == subject_id))
            ).all()
            return {str(c.purpose): c.renewal_required_at is not None for c in consents}
    finally:
        await engine.dispose()


async def test_publish_a_change_of_purpose_now_or_announced(tmp_path: Path) -> None:
    env = _env(tmp_path)
    settings = Settings.from_env(env)
    assert _optin("migrate", env=env).returncode == 0
    assert _optin("venue", "create", "onsen", "--name", "Onsen", env=env).returncode == 0
    first = _optin("notice", "publish", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert {r["changed_purposes"] == [] for r in json.loads(first.stdout)} == {True}
    person = await _consenting_person(settings)

    # Refused: a purpose the version does not cover, a time in the past, a time without a zone.
    uncovered = _optin(
        "notice", "publish", "--purpose", "entry", "--changes-purpose", "payment", env=env
    )
    assert uncovered.returncode == 2
    assert "not covered: payment" in uncovered.stderr
    past = (utcnow() - timedelta(hours=1)).isoformat()
    backdated = _optin(
        "notice", "publish", "--changes-purpose", "entry", "--effective-at", past, env=env
    )
    assert backdated.returncode == 2
    assert "now or later" in backdated.stderr
    naive = _optin("notice", "publish", "--effective-at", "2099-01-01T00:00", env=env)
    assert naive.returncode == 2
    assert "UTC offset" in naive.stderr
    for refused in (uncovered, backdated, naive):
        assert "Traceback" not in refused.stderr
    assert await _renewal_marks(settings, person) == {"entry": False, "payment": False}

    # Announced for later: published, not yet applied.
    later = (utcnow() + timedelta(days=2)).isoformat()
    announced = _optin(
        "notice",
        "publish",
        "--changes-purpose",
        "entry",
        "--effective-at",
        later,
        "--json",
        env=env,
    )
    assert announced.returncode == 0, announced.stderr
    rows = json.loads(announced.stdout)
    assert {r["version"] for r in rows} == {2}
    assert {tuple(r["changed_purposes"]) for r in rows} == {("entry",)}
    assert {r["effective_at"] for r in rows} == {later}
    assert await _renewal_marks(settings, person) == {"entry": False, "payment": False}
    shown = _optin("notice", "show", "--json", env=env)
    assert json.loads(shown.stdout)["version"] == 1, "an announced version is not current yet"

    # With immediate effect: applied at once, only to the purpose changed.
    now = _optin("notice", "publish", "--changes-purpose", "payment", env=env)
    assert now.returncode == 0, now.stderr
    assert "version 3" in now.stdout
    assert "it changes payment: 1 consents given earlier now need renewal" in now.stdout
    assert await _renewal_marks(settings, person) == {"entry": False, "payment": True}


async def test_the_announcement_is_queued_by_publish_and_sent_by_send_pending(
    tmp_path: Path,
    smtp_server: SmtpServer,  # noqa: F811
) -> None:
    """The publishing command only queues the mail (with the notice, in one transaction) and
    exits; ``optin mail send-pending`` (or a running server) sends it, once."""
    env = {**_env(tmp_path), **smtp_server.env()}
    settings = Settings.from_env(env)
    assert _optin("migrate", env=env).returncode == 0
    assert _optin("venue", "create", "onsen", "--name", "Onsen", env=env).returncode == 0
    assert _optin("notice", "publish", env=env).returncode == 0
    await _consenting_person(settings, contact="told@example.org")

    published = _optin("notice", "publish", "--changes-purpose", "payment", env=env)
    assert published.returncode == 0, published.stderr
    assert "1 change-of-purpose mails queued" in published.stdout
    assert smtp_server.received == []  # the command ended without sending

    sent = _optin("mail", "send-pending", "--json", env=env)
    assert sent.returncode == 0, sent.stderr
    assert json.loads(sent.stdout) == {"sent": 1, "failed": 0, "given_up": 0, "dropped": 0}
    (mail,) = smtp_server.wait_for(1)
    assert mail.message["To"] == "told@example.org"
    assert mail.message["Subject"] == "We are changing how we use your data"
    again = _optin("mail", "send-pending", env=env)
    assert again.returncode == 0, again.stderr
    assert "0 queued mails sent" in again.stdout
    assert len(smtp_server.received) == 1
