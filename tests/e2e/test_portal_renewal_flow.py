"""Renewing consent after a change of purpose, in real headless Chromium, in Japanese.

A visitor enrolled for entry and payment on version 1; version 2 changes what entry means and
applies at once. Signed in, the page puts the new text in front of everything else with one
unticked agreement; pressing Renew without ticking is refused on the page (nothing is sent);
ticked, the consent is renewed with a signed receipt, the entry card is in effect again and the
renewal block is gone. axe-core checks the page with the renewal block, its error and the
confirmation. (Own module: the version it publishes must not reach the other browser tests.)
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
    consent_card,
    download_json,
    enroll,
    in_db,
    mailed_link,
    public_jwk,
)

from optin.crypto.signing import verify_document
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Language, Purpose
from optin.db.models import Consent
from optin.i18n import messages, translator
from optin.services.notices import publish_notices
from optin.services.renewal import apply_purpose_changes
from optin.services.venues import list_venues

pytestmark = pytest.mark.browser


def change_entry(app: LiveApp) -> str:
    """Version 2, changing entry, in effect now and applied; the id of its Japanese text."""

    async def publish() -> str:
        engine = create_engine(app.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                venues = list(await list_venues(session))
                notices = await publish_notices(
                    session, app.settings, venues, changed_purposes=[Purpose.ENTRY]
                )
                await session.commit()
                assert await apply_purpose_changes(session, app.keys) == 1
                return next(str(n.id) for n in notices if n.language == Language.JA)
        finally:
            await engine.dispose()

    return run_async(publish)


def test_renew_a_consent_on_the_new_notice(live_app: LiveApp, new_page: NewPage) -> None:
    t = translator("ja")
    enrolled = enroll(live_app, OBAMA, "renew@example.org", lang="ja")
    subject_id = UUID(str(enrolled["subject_id"]))
    link = mailed_link(live_app, "renew@example.org")
    v2_ja = change_entry(live_app)

    async def entry_consents(session: Any) -> list[tuple[int, bool, bool]]:
        rows = await session.scalars(
            select(Consent)
            .where(Consent.subject_id == subject_id, Consent.purpose == Purpose.ENTRY)
            .order_by(Consent.granted_at)
        )
        return [
            (c.notice_version, c.withdrawn_at is None, c.renewal_required_at is not None)
            for c in rows
        ]

    with new_page(locale="ja-JP") as page:
        page.goto(link)
        page.click("#sign-in-button")
        page.wait_for_url(f"{live_app.url}/ja/portal")

        # The renewal block: heading, the new text in Japanese with its change section first,
        # one agreement for entry at the hotel, not ticked.
        block = page.locator("#renewal")
        assert block.locator("h2").text_content() == t.gettext(messages.RENEWAL_HEADING)
        notice = page.locator("#renewal-notice")
        assert notice.get_attribute("lang") == "ja"
        assert notice.locator("h4").first.text_content() == "この版での変更点"
        assert notice.is_visible()
        forms = page.locator("form.renew-form")
        assert forms.count() == 1
        form = forms.first
        assert form.get_attribute("data-notice") == v2_ja
        assert form.get_attribute("data-purpose") == "entry"
        box = form.locator("input[type='checkbox']")
        assert not box.is_checked()
        entry_title = t.gettext(
            messages.CONSENT_AT,
            purpose=t.gettext(messages.PURPOSE_ENTRY),
            venue="Onsen Hotel Shirahama",
        )
        assert form.locator("label").text_content() == t.gettext(
            messages.RENEWAL_AGREE, consent=entry_title
        )
        assert consent_card(page, "entry").get_attribute("data-state") == "renewal"
        assert t.gettext(messages.CONSENT_NEEDS_RENEWAL) in (
            consent_card(page, "entry").text_content() or ""
        )
        assert consent_card(page, "payment").get_attribute("data-state") == "active"
        assert_accessible(page, "the portal page with a consent to renew")

        # Not ticked: refused on the page, nothing sent.
        renew = form.get_by_role("button", name=t.gettext(messages.RENEWAL_BUTTON))
        renew.click()
        error = form.locator(".error")
        assert error.text_content() == t.gettext(messages.RENEWAL_TICK)
        assert box.get_attribute("aria-invalid") == "true"
        assert page.evaluate("document.activeElement.classList.contains('error')")
        assert in_db(live_app, entry_consents) == [(1, True, True)]
        assert_accessible(page, "the renewal form with its error")

        # Ticked: renewed, with a signed receipt citing the new text.
        box.check()
        renew.click()
        confirmation = page.locator("#confirmation-text")
        page.wait_for_function(
            "(text) => document.getElementById('confirmation-text').textContent === text",
            arg=t.gettext(messages.RENEWED_DONE),
        )
        assert confirmation.is_visible()
        receipt = download_json(page, "#receipt-link", "renewal-receipt.json")
        assert receipt["type"] == "optin.renewal-receipt"
        assert receipt["renewed"] == [{"purpose": "entry", "venue": "onsen-hotel"}]
        assert receipt["notice"]["id"] == v2_ja
        assert verify_document(receipt, public_jwk(live_app))
        assert page.locator("#receipt-link").text_content() == t.gettext(
            messages.DOWNLOAD_RENEWAL_RECEIPT
        )
        # The page shows what the server now holds: both in effect, nothing left to renew.
        assert page.locator("#renewal").count() == 0
        assert page.locator("li.consent[data-state='active']").count() == 2
        assert page.locator("li.consent[data-state='renewal']").count() == 0
        assert_accessible(page, "the portal page after a renewal (confirmation)")

    assert in_db(live_app, entry_consents) == [(1, False, True), (2, True, False)]
