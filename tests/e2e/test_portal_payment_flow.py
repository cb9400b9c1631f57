"""The portal's payment section in real Chromium: the card goes to the provider, never to us.

The app is served with its payment provider pointed at a real sandbox process. A visitor signs
in with the recovery code, sets a PIN and types a test card into the page; every request the
browser makes is recorded: the card number and security code travel only to the sandbox's
tokens endpoint (without our cookies), our server receives only the token, and the page then
shows "VISA 4242". A charge at a till appears in the person's payments, and removing the card
works from the page. axe-core checks the section, in Japanese.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from browser_support import LiveApp, NewPage, run_async, start_live_app
from test_portal_flow import KIT, assert_accessible, enroll

from optin.cli.payments import sandbox_subprocess
from optin.db.engine import create_engine, session_factory
from optin.i18n import messages, translator
from optin.payments.sandbox_server import CARD_OK
from optin.services.gallery import venue_key
from optin.services.gates import register_gate
from optin.services.venues import venues_by_slug

pytestmark = pytest.mark.browser

SECURITY_CODE = "737"


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with sandbox_subprocess(port=None) as url:
        yield url


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory, sandbox_url: str) -> Iterator[LiveApp]:
    """As the e2e conftest's, with the payment provider pointed at the sandbox."""
    env = {
        "OPTIN_NOTICE_LEAD_HOURS": "0",
        "OPTIN_PAYMENT_PROVIDER": "sandbox",
        "OPTIN_PAYMENT_SANDBOX_URL": sandbox_url,
    }
    with start_live_app(tmp_path_factory.mktemp("e2e-payment") / "data", env) as app:
        yield app


async def _gate_and_ref(app: LiveApp, subject_id: str) -> tuple[str, str]:
    from uuid import UUID

    engine = create_engine(app.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            _gate, token = await register_gate(session, app.keys.tokens, "onsen-hotel", "Till")
            (venue,) = await venues_by_slug(session, ["onsen-hotel"])
            await session.commit()
            return token, venue_key(app.keys.master, venue).pseudonym(UUID(subject_id))
    finally:
        await engine.dispose()


def test_the_card_goes_to_the_provider_only(
    live_app: LiveApp, new_page: NewPage, sandbox_url: str
) -> None:
    enrolled = enroll(live_app, KIT, "card@example.org", lang="ja")
    t = translator("ja")
    ours = urlsplit(live_app.url).netloc
    provider = urlsplit(sandbox_url).netloc
    sent: list[tuple[str, str, str, dict[str, str]]] = []

    with new_page(locale="ja-JP") as page:
        page.on(
            "request",
            lambda request: sent.append(
                (request.method, request.url, request.post_data or "", request.headers)
            ),
        )
        page.goto("/ja/portal/sign-in")
        page.fill("#recovery-code", str(enrolled["recovery_code"]))
        page.press("#recovery-code", "Enter")
        page.wait_for_url(f"{live_app.url}/ja/portal")
        section = page.locator("#payment")
        assert t.gettext(messages.NO_CARD) in (section.text_content() or "")

        # The PIN: two different entries are caught on the page, then it is saved.
        page.fill("#pin-new", "2468")
        page.fill("#pin-again", "2469")
        page.locator("#pin-form button[type='submit']").click()
        assert page.locator("#pin-error").text_content() == t.gettext(messages.PIN_MISMATCH)
        page.fill("#pin-again", "2468")
        page.locator("#pin-form button[type='submit']").click()
        page.wait_for_function(
            "(text) => document.getElementById('confirmation-text').textContent === text",
            arg=t.gettext(messages.PIN_SAVED),
        )
        assert page.locator("#pin-state").text_content() == t.gettext(messages.PIN_IS_SET)

        page.fill("#card-number", "4242 4242 4242 4242")
        page.fill("#card-exp-month", "12")
        page.fill("#card-exp-year", str((time.gmtime().tm_year + 3) % 100))
        page.fill("#card-cvc", SECURITY_CODE)
        page.locator("#card-form button[type='submit']").click()
        saved = t.gettext(messages.CARD_SAVED, label="VISA 4242")
        page.wait_for_function(
            "(text) => document.getElementById('confirmation-text').textContent === text",
            arg=saved,
        )
        assert page.locator("#payment-card").text_content() == "VISA 4242"
        assert_accessible(page, "the portal's payment section with a card (ja)")

        # What left the browser: the card only to the provider, without our cookies.
        to_provider = [s for s in sent if urlsplit(s[1]).netloc == provider]
        to_us = [s for s in sent if urlsplit(s[1]).netloc == ours]
        card_posts = [s for s in to_provider if s[0] == "POST"]
        assert [urlsplit(s[1]).path for s in card_posts] == ["/v1/tokens"]
        assert CARD_OK in card_posts[0][2]
        assert "cookie" not in {name.lower() for name in card_posts[0][3]}
        assert "x-csrf-token" not in {name.lower() for name in card_posts[0][3]}
        for _method, url, body, headers in to_us:
            assert CARD_OK not in body, url
            assert "4242 4242" not in body, url
            assert CARD_OK not in url, url
            assert f'"cvc":"{SECURITY_CODE}"' not in body.replace(" ", ""), url
            assert CARD_OK not in headers.get("referer", ""), url
        (method_post,) = [s for s in to_us if s[1].endswith("/api/v1/portal/payment-method")]
        assert '"token":"tok_' in method_post[2].replace(" ", "")
        assert page.input_value("#card-number") == ""
        assert page.input_value("#card-cvc") == ""

        # A till charges him; his payments show it.
        gate_token, ref = run_async(lambda: _gate_and_ref(live_app, str(enrolled["subject_id"])))
        charged = httpx.post(
            f"{live_app.url}/api/v1/agent/charges",
            json={
                "ref": ref,
                "amount_minor": 1500,
                "currency": "JPY",
                "item": "Onsen towel",
                "idempotency_key": "e2e-1",
                "pin": None,
            },
            headers={"authorization": f"Bearer {gate_token}"},
            timeout=30,
        )
        assert charged.status_code == 200, charged.text
        page.reload()
        payments = page.locator("#payment li.charge").first
        text = payments.text_content() or ""
        assert "Onsen towel" in text
        assert t.gettext(messages.CHARGE_CAPTURED) in text
        assert "1,500" in text

        page.get_by_role("button", name=t.gettext(messages.REMOVE_CARD)).click()
        page.wait_for_function(
            "(text) => document.getElementById('confirmation-text').textContent === text",
            arg=t.gettext(messages.CARD_REMOVED),
        )
        assert page.locator("#payment-card").text_content() == t.gettext(messages.NO_CARD)
        assert_accessible(page, "the portal's payment section after removing the card (ja)")
