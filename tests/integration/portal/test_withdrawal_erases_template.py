"""Withdrawing the last live consent erases the face template at once; the account stays.

Over real HTTP (``optin serve``) on SQLite and PostgreSQL: the portal warns before the last
withdrawal; after it no template row is left, the gate's gallery has no entry for the person and
the portal still signs them in and shows their disclosure, with the way back (a new selfie,
which enrols again).
Withdrawing one of two consents keeps the template, and so does a consent a change of purpose
set aside (it is still live: the person may renew it).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from optin.db.engine import create_engine, session_factory
from optin.db.enums import Language, Purpose
from optin.db.models import FaceTemplate, Subject, Venue
from optin.i18n import messages, translator
from optin.services.gallery import venue_key

from support.enrollment_world import EnrollmentWorld
from support.served_app import served
from support.served_world import enroll, gallery, gate_token, sign_in

EMAIL = "visitor@example.org"
LAST_WARNING = translator("en").gettext(messages.WITHDRAW_LAST_WARNING)


async def _held(world: EnrollmentWorld, subject_id: str) -> tuple[int, str]:
    """The person's template rows, and their status."""
    engine = create_engine(world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(FaceTemplate)
                .where(FaceTemplate.subject_id == uuid.UUID(subject_id))
            )
            subject = await session.get(Subject, uuid.UUID(subject_id))
            assert subject is not None
            return int(count or 0), str(subject.status)
    finally:
        await engine.dispose()


async def _ref(world: EnrollmentWorld, subject_id: str) -> str:
    """The person's pseudonym at the hotel, as its gates know them."""
    engine = create_engine(world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            venue = await session.scalar(select(Venue).where(Venue.slug == "onsen-hotel"))
            assert venue is not None
            return venue_key(world.keys.master, venue).pseudonym(uuid.UUID(subject_id))
    finally:
        await engine.dispose()


async def _withdraw(http: httpx.AsyncClient, csrf: str, **body: str) -> None:
    response = await http.post("/api/v1/portal/withdraw", json=body, headers={"x-csrf-token": csrf})
    assert response.status_code == 200, response.text


def _entries(page: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["ref"]: entry for entry in page["entries"]}


async def test_the_last_withdrawal_erases_the_template_and_keeps_the_account(
    world: EnrollmentWorld,
) -> None:
    with served(world.env()) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            subject_id = await enroll(http, world, "obama/obama_4.jpg", EMAIL)
            csrf = await sign_in(http, world, EMAIL)
            token = await gate_token(world)
            ref = await _ref(world, subject_id)
            assert ref in _entries(await gallery(http, token))

            # Two consents: neither button warns, and withdrawing one keeps the template.
            page = (await http.get("/en/portal")).text
            assert 'data-action="withdraw-last-ask"' not in page
            assert translator("en").gettext(messages.TEMPLATE_KEPT_WHILE) in page
            await _withdraw(http, csrf, purpose="payment", venue="onsen-hotel")
            assert await _held(world, subject_id) == (1, "active")
            assert _entries(await gallery(http, token))[ref]["purposes"] == ["entry"]

            # The last one: the page says what will happen before the person confirms.
            page = (await http.get("/en/portal")).text
            assert page.count('data-action="withdraw-last-ask"') == 1
            assert LAST_WARNING in page
            before = (await gallery(http, token))["sequence"]
            await _withdraw(http, csrf, purpose="entry", venue="onsen-hotel")

            assert await _held(world, subject_id) == (0, "active")
            assert ref not in _entries(await gallery(http, token))
            delta = await gallery(http, token, since=before)
            assert _entries(delta)[ref]["action"] == "revoke"
            # Still signed in; the disclosure shows no template, the page the way back.
            me = await http.get("/api/v1/portal/me")
            assert me.status_code == 200, me.text
            assert me.json()["face_templates"] == []
            page = (await http.get("/en/portal")).text
            t = translator("en")
            assert t.gettext(messages.TEMPLATE_ERASED) in page
            assert 'href="/en/enroll"' in page
            assert "withdraw-last" not in page
            # The way back: a new selfie enrols again (nothing of the old face is left to
            # match), as a new person; the old account keeps its deadline.
            again = await enroll(http, world, "obama/obama_4.jpg", EMAIL)
            assert again != subject_id
            assert await _held(world, again) == (1, "active")


async def test_a_consent_set_aside_by_a_change_of_purpose_keeps_the_template(
    world: EnrollmentWorld,
) -> None:
    with served(world.env()) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            subject_id = await enroll(http, world, "obama/obama_4.jpg", EMAIL)
            csrf = await sign_in(http, world, EMAIL)
            # Version 2 changes what entry means: the entry consent is set aside, not withdrawn.
            notices, set_aside = await world.change_purposes(Purpose.ENTRY)
            assert set_aside == 1
            v2 = notices[Language.EN]

            await _withdraw(http, csrf, purpose="payment", venue="onsen-hotel")
            # Only the set-aside entry consent is left: still live, so the template stays.
            assert await _held(world, subject_id) == (1, "active")
            page = (await http.get("/en/portal")).text
            assert LAST_WARNING in page  # withdrawing that one would erase it
            renewed = await http.post(
                "/api/v1/portal/renew",
                json={"purpose": "entry", "venue": "onsen-hotel", "notice_id": v2},
                headers={"x-csrf-token": csrf},
            )
            assert renewed.status_code == 200, renewed.text
            assert await _held(world, subject_id) == (1, "active")
            ref = await _ref(world, subject_id)
            assert ref in _entries(await gallery(http, await gate_token(world)))
