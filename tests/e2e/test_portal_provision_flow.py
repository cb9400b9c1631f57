"""Agreeing to, and withdrawing from, provision to a named third party, in real headless
Chromium, in Chinese, with the keyboard only.

Two recipients are registered. Signed in, the "Given to others" section names each one with what
it would receive (in the page's language) and why; no box is ticked. Pressing a recipient's agree
button without ticking is refused on the page and nothing is sent; ticked, the agreement is
recorded for that recipient only, with a signed receipt, and the card says so. Withdrawing is
that card's own button; the card then shows the earlier agreement and offers agreeing again.
axe-core checks each state. (Own module: the recipients it registers must not reach the other
browser tests' pages.)
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from browser_support import LiveApp, NewPage, run_async
from sqlalchemy import select

# Helpers of the portal flow beside this one.
from test_portal_flow import (
    OBAMA,
    assert_accessible,
    download_json,
    enroll,
    in_db,
    mailed_link,
    public_jwk,
)

from optin.crypto.signing import verify_document
from optin.db.engine import create_engine, session_factory
from optin.db.models import ProvisionConsent
from optin.i18n import messages, translator
from optin.services.provisions import register_recipient

pytestmark = pytest.mark.browser

INSURER = "Kumano Travel Insurance"
CLINIC = "Shirahama Clinic"


def register_recipients(app: LiveApp) -> dict[str, str]:
    async def register() -> dict[str, str]:
        engine = create_engine(app.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                insurer = await register_recipient(
                    session,
                    name=INSURER,
                    purpose="settle claims for missed entries on your trip",
                    items=["subjects.id", "events"],
                    contact="claims@insurer.example",
                )
                clinic = await register_recipient(
                    session,
                    name=CLINIC,
                    purpose="check in patients without a form",
                    items=["subjects.id", "subjects.contact_ciphertext"],
                    contact="desk@clinic.example",
                )
                await session.commit()
                return {INSURER: str(insurer.id), CLINIC: str(clinic.id)}
        finally:
            await engine.dispose()

    return run_async(register)


def test_agree_and_withdraw_provision_to_one_named_recipient(
    live_app: LiveApp, new_page: NewPage
) -> None:
    t = translator("zh")
    ids = register_recipients(live_app)
    enrolled = enroll(live_app, OBAMA, "provision@example.org", lang="zh")
    subject_id = UUID(str(enrolled["subject_id"]))
    link = mailed_link(live_app, "provision@example.org")

    async def agreements(session: Any) -> list[tuple[str, bool]]:
        rows = await session.scalars(
            select(ProvisionConsent)
            .where(ProvisionConsent.subject_id == subject_id)
            .order_by(ProvisionConsent.granted_at)
        )
        names = {value: key for key, value in ids.items()}
        return [(names[str(c.recipient_id)], c.withdrawn_at is None) for c in rows]

    with new_page(locale="zh-CN") as page:
        page.goto(link)
        page.click("#sign-in-button")
        page.wait_for_url(f"{live_app.url}/zh/portal")

        section = page.locator("#shared")
        assert t.gettext(messages.RECIPIENTS_INTRO) in (section.text_content() or "")
        cards = section.locator("li.recipient")
        assert cards.count() == 2
        insurer = section.locator(f"li.recipient[data-recipient='{ids[INSURER]}']")
        clinic = section.locator(f"li.recipient[data-recipient='{ids[CLINIC]}']")
        # Each named, with what it would receive in the page's words, and why.
        text = insurer.text_content() or ""
        for shown in (
            INSURER,
            t.gettext(messages.PROVISION_ITEMS["subjects.id"]),
            t.gettext(messages.PROVISION_ITEMS["events"]),
            "settle claims for missed entries on your trip",
            t.gettext(messages.RECIPIENT_NOT_AGREED),
        ):
            assert shown in text, shown
        assert t.gettext(messages.PROVISION_ITEMS["subjects.contact_ciphertext"]) in (
            clinic.text_content() or ""
        )
        # Nothing pre-ticked; controls named for screen readers by their recipient.
        boxes = section.get_by_role("checkbox")
        assert boxes.count() == 2
        assert not any(boxes.nth(i).is_checked() for i in range(2))
        box = page.get_by_role(
            "checkbox", name=t.gettext(messages.RECIPIENT_AGREE, recipient=INSURER)
        )
        agree = page.get_by_role(
            "button", name=t.gettext(messages.RECIPIENT_AGREE_BUTTON, recipient=INSURER)
        )
        assert_accessible(page, "the portal page with recipients to agree to")

        # Not ticked: refused on the page, nothing sent.
        agree.focus()
        page.keyboard.press("Enter")
        error = insurer.locator(".error")
        assert error.text_content() == t.gettext(messages.RECIPIENT_TICK)
        assert box.get_attribute("aria-invalid") == "true"
        assert page.evaluate("document.activeElement.classList.contains('error')")
        assert in_db(live_app, agreements) == []
        assert_accessible(page, "a recipient's form with its error")

        # Ticked with the keyboard: recorded for this recipient only, with a signed receipt.
        box.focus()
        page.keyboard.press("Space")
        assert box.is_checked()
        page.keyboard.press("Tab")  # the error line is not a tab stop: on to the button
        assert page.evaluate("document.activeElement.textContent") == t.gettext(
            messages.RECIPIENT_AGREE_BUTTON, recipient=INSURER
        )
        page.keyboard.press("Enter")
        page.wait_for_function(
            "(text) => document.getElementById('confirmation-text').textContent === text",
            arg=t.gettext(messages.RECIPIENT_AGREED_DONE),
        )
        assert page.evaluate("document.activeElement.id") == "confirmation-text"
        receipt = download_json(page, "#receipt-link", "provision-consent-receipt.json")
        assert receipt["type"] == "optin.provision-consent-receipt"
        assert receipt["recipient"]["name"] == INSURER
        assert receipt["items"] == ["subjects.id", "events"]
        assert verify_document(receipt, public_jwk(live_app))
        assert in_db(live_app, agreements) == [(INSURER, True)]
        assert insurer.get_attribute("data-state") == "agreed"
        assert clinic.get_attribute("data-state") == "not-agreed"
        assert insurer.locator("form").count() == 0
        assert_accessible(page, "the portal page after agreeing (confirmation)")

        # Withdrawn with that card's own button; the clinic is untouched throughout.
        withdraw = page.get_by_role(
            "button", name=t.gettext(messages.RECIPIENT_WITHDRAW_BUTTON, recipient=INSURER)
        )
        withdraw.focus()
        page.keyboard.press("Enter")
        page.wait_for_function(
            "(text) => document.getElementById('confirmation-text').textContent === text",
            arg=t.gettext(messages.RECIPIENT_WITHDRAWN_DONE),
        )
        withdrawal = download_json(page, "#receipt-link", "provision-withdrawal-receipt.json")
        assert withdrawal["type"] == "optin.provision-withdrawal-receipt"
        assert withdrawal["withdrawn_at"] is not None
        assert verify_document(withdrawal, public_jwk(live_app))
        assert in_db(live_app, agreements) == [(INSURER, False)]
        assert insurer.get_attribute("data-state") == "not-agreed"
        assert t.gettext(messages.WITHDRAWN_ON) in (insurer.text_content() or "")
        assert not insurer.get_by_role("checkbox").is_checked()
        assert page.locator("[data-action='recipient-withdraw']").count() == 0
        assert_accessible(page, "the portal page after withdrawing")
