"""Withdrawing the last consent in real Chromium, in Korean: the page warns that the face
template will be erased and waits for a confirmation (Cancel changes nothing); once confirmed,
the template row is gone, the page says so and links to enrolment for a new selfie, and the
person is still signed in. axe-core checks the warning and the state after it."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from browser_support import SAMPLES, LiveApp, NewPage
from sqlalchemy import func, select
from test_portal_flow import assert_accessible, consent_card, in_db, mailed_link

from optin.db.models import Consent, FaceTemplate
from optin.i18n import messages, translator

pytestmark = pytest.mark.browser

PHOTO = SAMPLES / "lin_manuel_miranda" / "lin_manuel_miranda_1.png"
EMAIL = "lin@example.org"


def _enroll_for_entry_only(app: LiveApp) -> str:
    response = httpx.post(
        f"{app.url}/api/v1/enrollments",
        data={
            "notice_id": app.notices["ko"].id,
            "locale": "ko",
            "email": EMAIL,
            "purposes": ["entry"],
            "venues": ["onsen-hotel"],
            "trip_end": (date.today() + timedelta(days=5)).isoformat(),
        },
        files={"photo": (PHOTO.name, PHOTO.read_bytes(), "image/png")},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["subject_id"])


def _held(app: LiveApp, subject_id: str) -> tuple[int, bool]:
    """The person's template rows, and whether their consent is still live."""

    async def query(session: Any) -> tuple[int, bool]:
        person = UUID(subject_id)
        templates = await session.scalar(
            select(func.count()).select_from(FaceTemplate).where(FaceTemplate.subject_id == person)
        )
        live = await session.scalar(
            select(func.count())
            .select_from(Consent)
            .where(Consent.subject_id == person, Consent.withdrawn_at.is_(None))
        )
        return int(templates), bool(live)

    result: tuple[int, bool] = in_db(app, query)
    return result


def test_the_last_withdrawal_warns_then_erases_the_template(
    live_app: LiveApp, new_page: NewPage
) -> None:
    t = translator("ko")
    subject_id = _enroll_for_entry_only(live_app)
    with new_page(locale="ko-KR") as page:
        page.goto(mailed_link(live_app, EMAIL))
        page.click("#sign-in-button")
        page.wait_for_url(f"{live_app.url}/ko/portal")
        warning = page.locator("#withdraw-last-question")
        assert not warning.is_visible()

        withdraw = consent_card(page, "entry").get_by_role(
            "button", name=t.gettext(messages.WITHDRAW_THIS)
        )
        withdraw.click()
        warning.wait_for(state="visible")
        assert (warning.text_content() or "").strip() == t.gettext(messages.WITHDRAW_LAST_WARNING)
        assert page.evaluate("document.activeElement.id") == "withdraw-last-question"
        assert_accessible(page, "the portal page warning before the last withdrawal")
        # Cancel: nothing was withdrawn.
        page.get_by_role("button", name=t.gettext(messages.CANCEL)).click()
        assert not warning.is_visible()
        assert _held(live_app, subject_id) == (1, True)

        withdraw.click()
        page.get_by_role("button", name=t.gettext(messages.WITHDRAW_LAST_CONFIRM)).click()
        confirmation = page.locator("#confirmation-text")
        confirmation.wait_for(state="visible")
        assert confirmation.text_content() == t.gettext(messages.WITHDRAWN_DONE)
        assert _held(live_app, subject_id) == (0, False)
        # Still signed in: the page says the template is gone and how to come back.
        erased = page.locator("#template-erased")
        assert t.gettext(messages.TEMPLATE_ERASED) in (erased.text_content() or "")
        back = erased.get_by_role("link", name=t.gettext(messages.ENROL_AGAIN))
        assert back.get_attribute("href") == "/ko/enroll"
        assert t.gettext(messages.NO_TEMPLATE) in (page.locator("#template").text_content() or "")
        assert_accessible(page, "the portal page after the last withdrawal")
