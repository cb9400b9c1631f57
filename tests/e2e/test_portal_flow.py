"""The self-service portal in real headless Chromium, against the app over real HTTP.

A visitor enrolls (through the API, with a photo), the sign-in mail is caught by the real SMTP
server, and Chromium opens the mailed link: the page does not use the token until the person
presses Sign in (a mail scanner fetching the link first changes nothing). The disclosure page
shows their email, consents with the notice text they agreed to, the deletion date and an
operator access from the audit log; the export downloads through the page and validates
against the published schema; payment is withdrawn (entry stays) with a signed receipt; the
deletion date is brought forward and a correction request is filed; then everything is deleted,
with a signed receipt, the session ends and the database holds only the tombstone. A second
visitor signs in with the recovery code (after a wrong one) and signs out. axe-core checks the
sign-in page, the portal page, the confirmation state and the deleted state.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import jsonschema
import pytest
from browser_support import SAMPLES, TIMEOUT_MS, LiveApp, NewPage, run_async
from sqlalchemy import func, select

from optin.crypto.signing import verify_document
from optin.db.engine import create_engine, session_factory
from optin.db.enums import ActorKind
from optin.db.models import Consent, FaceTemplate, PortalSession, Subject
from optin.i18n import HTML_LANG, error_message, messages, translator
from optin.services.audit import Actor, record

pytestmark = pytest.mark.browser

OBAMA = SAMPLES / "obama" / "obama_4.jpg"
KIT = SAMPLES / "kit_harington" / "kit_harington_1.jpg"
TOKEN = re.compile(r"https?://\S+/portal/sign-in\?token=(optin_signin_[A-Za-z0-9_-]+)")
AUDIT_REASON = "Disclosure request by post, ticket 4711"


# --- helpers ----------------------------------------------------------------------------------


def assert_accessible(page: Any, where: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, f"axe-core on {where}:\n{results.generate_report()}"


def enroll(app: LiveApp, photo: Path, email: str, lang: str = "en") -> dict[str, Any]:
    """Enrolment through the API with a photo: entry and payment at the onsen hotel."""
    response = httpx.post(
        f"{app.url}/api/v1/enrollments",
        data={
            "notice_id": app.notices[lang].id,
            "locale": lang,
            "email": email,
            "purposes": ["entry", "payment"],
            "venues": ["onsen-hotel"],
            "trip_end": (date.today() + timedelta(days=5)).isoformat(),
        },
        files={"photo": (photo.name, photo.read_bytes(), "image/jpeg")},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    enrolled: dict[str, Any] = response.json()
    return enrolled


def mailed_link(app: LiveApp, address: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in app.smtp.received:
            if mail.message["To"] == address:
                match = TOKEN.search(mail.text)
                assert match, mail.text
                return match.group(0)
        time.sleep(0.1)
    raise AssertionError(f"no mail to {address} within {timeout}s")


def download_json(page: Any, selector: str, filename: str | None = None) -> dict[str, Any]:
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.click(selector)
    download = info.value
    if filename is not None:
        assert download.suggested_filename == filename
    document: dict[str, Any] = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    return document


def public_jwk(app: LiveApp) -> dict[str, Any]:
    [key] = httpx.get(f"{app.url}/.well-known/jwks.json", timeout=10).json()["keys"]
    assert isinstance(key, dict)
    return key


def in_db(app: LiveApp, query: Any) -> Any:
    async def run() -> Any:
        engine = create_engine(app.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                return await query(session)
        finally:
            await engine.dispose()

    return run_async(run)


def add_operator_access(app: LiveApp, subject_id: str) -> None:
    """An audit entry about the person, as the operator console will write them."""

    async def insert(session: Any) -> None:
        await record(
            session,
            Actor(ActorKind.OPERATOR, "privacy-officer-1"),
            "subject.export",
            subject_id=UUID(subject_id),
            reason=AUDIT_REASON,
        )
        await session.commit()

    in_db(app, insert)


def notice_line(app: LiveApp, lang: str) -> str:
    """A line from the middle of the notice's body, as published."""
    [notice] = httpx.get(f"{app.url}/api/v1/notices", params={"language": lang}, timeout=10).json()
    assert notice["id"] == app.notices[lang].id
    lines = [line for line in notice["body"].splitlines() if len(line) > 40]
    return str(lines[len(lines) // 2]).removeprefix("- ")


def consent_card(page: Any, purpose: str, venue: str = "onsen-hotel") -> Any:
    return page.locator(f"li.consent[data-purpose='{purpose}'][data-venue='{venue}']")


def sign_in_page_is_clean(html: str) -> None:
    """Ready for a strict CSP: no inline script or style, no event-handler attributes."""
    for script in re.findall(r"<script[^>]*>", html):
        assert "src=" in script or 'type="application/json"' in script, script
    assert " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)


# --- routes over plain HTTP -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "header", "target"),
    [
        ("/portal", "ja-JP,ja;q=0.9", "/ja/portal"),
        ("/portal", "fr-FR", "/en/portal"),
        ("/portal?lang=ko", "zh-CN", "/ko/portal"),
        ("/portal/sign-in?token=optin_signin_abc-DEF_123456789", "zh-TW", None),
        ("/portal/sign-in", "ko", "/ko/portal/sign-in"),
    ],
)
def test_portal_redirects_to_the_browsers_language(
    live_app: LiveApp, path: str, header: str, target: str | None
) -> None:
    response = httpx.get(
        f"{live_app.url}{path}", headers={"Accept-Language": header}, follow_redirects=False
    )
    assert response.status_code == 302
    expected = target or "/zh/portal/sign-in?token=optin_signin_abc-DEF_123456789"
    assert response.headers["location"] == expected
    assert "Accept-Language" in response.headers["vary"]


def test_pages_without_a_session(live_app: LiveApp) -> None:
    for lang in ("ja", "en", "zh", "ko"):
        t = translator(lang)
        response = httpx.get(f"{live_app.url}/{lang}/portal")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert f'<html lang="{HTML_LANG[lang]}">' in response.text
        assert t.gettext(messages.NOT_SIGNED_IN) in response.text
        assert f'href="/{lang}/portal/sign-in"' in response.text
        assert live_app.settings.operator.contact_email in response.text
        sign_in = httpx.get(f"{live_app.url}/{lang}/portal/sign-in?token=optin_signin_x")
        assert sign_in.headers["referrer-policy"] == "no-referrer"
        sign_in_page_is_clean(sign_in.text)
        # A token of the wrong shape is not offered for sign-in; the page says so.
        assert 'name="token"' not in sign_in.text
        assert t.gettext(messages.LINK_USED) in sign_in.text
    assert httpx.get(f"{live_app.url}/fr/portal").status_code == 404


# --- the whole flow in Chromium ---------------------------------------------------------------


def test_enroll_sign_in_see_export_withdraw_delete(live_app: LiveApp, new_page: NewPage) -> None:
    t = translator("en")
    enrolled = enroll(live_app, OBAMA, "obama@example.org")
    subject_id = str(enrolled["subject_id"])
    link = mailed_link(live_app, "obama@example.org")
    assert link.startswith(f"{live_app.url}/portal/sign-in?token=")
    add_operator_access(live_app, subject_id)

    # A mail scanner fetching the link does not use it up.
    scanned = httpx.get(link, follow_redirects=True, headers={"Accept-Language": "en"})
    assert scanned.status_code == 200
    assert t.gettext(messages.SIGN_IN_LINK_INTRO) in scanned.text
    sign_in_page_is_clean(scanned.text)

    with new_page(locale="en-US") as page:
        page.goto(link)
        assert re.search(r"/en/portal/sign-in\?token=optin_signin_", page.url)
        assert page.get_attribute("html", "lang") == "en"
        assert_accessible(page, "the sign-in page (link)")
        page.click("#sign-in-button")
        page.wait_for_url(f"{live_app.url}/en/portal")

        # --- the disclosure page
        assert page.locator("#portal-content > h1").text_content() == t.gettext(
            messages.PORTAL_TITLE
        )
        assert page.locator("#subject-email").text_content() == "obama@example.org"
        for purpose, label in (
            ("entry", messages.PURPOSE_ENTRY),
            ("payment", messages.PURPOSE_PAYMENT),
        ):
            card = consent_card(page, purpose)
            title = t.gettext(
                messages.CONSENT_AT, purpose=t.gettext(label), venue="Onsen Hotel Shirahama"
            )
            assert card.locator("h3").text_content() == title
            assert card.get_attribute("data-state") == "active"
        # The exact notice text, behind a disclosure widget.
        line = notice_line(live_app, "en")
        card = consent_card(page, "entry")
        assert not card.get_by_text(line, exact=False).first.is_visible()
        card.locator("summary").click()
        assert card.get_by_text(line, exact=False).first.is_visible()
        assert live_app.notices["en"].sha256 in (card.text_content() or "")
        # The deletion date: the trip end plus the grace period.
        deadline = datetime.fromisoformat(enrolled["retention_until"]).date()
        assert page.locator("#retention-date").text_content() == t.gettext(
            messages.DELETION_DATE, date=t.format_date(deadline)
        )
        # The template is described, never shown.
        template = page.locator("#template").text_content() or ""
        assert t.gettext(messages.TEMPLATE_MODEL) in template
        assert not re.search(r"-?0\.\d{4,}", template)
        # The operator access from the audit log: who by role, when, why.
        access = page.locator("li.operator-access")
        assert access.count() == 1
        assert t.gettext(messages.ACTOR_OPERATOR) in (access.text_content() or "")
        assert AUDIT_REASON in (access.text_content() or "")
        assert t.gettext(messages.NOT_SHARED) in (page.locator("#shared").text_content() or "")
        assert live_app.settings.operator.contact_email in (
            page.locator("footer").text_content() or ""
        )
        sign_in_page_is_clean(page.content())
        assert_accessible(page, "the portal page")

        # The mailed link works once: opened again elsewhere, it says so readably.
        with new_page(locale="en-US") as other:
            other.goto(link)
            other.click("#sign-in-button")
            error = other.locator("#link-error")
            error.wait_for(state="visible")
            assert error.text_content() == t.gettext(messages.LINK_USED)
            assert error.get_attribute("role") == "alert"
            assert "/sign-in" in other.url

        # --- export: a download made on request, valid against the published schema
        export = download_json(page, "#export-link")
        schema = httpx.get(f"{live_app.url}/api/v1/portal/export.schema.json", timeout=10).json()
        jsonschema.validate(export, schema, format_checker=jsonschema.FormatChecker())
        assert export["subject"]["contact"]["email"] == "obama@example.org"
        assert export["subject"]["id"] == subject_id
        assert {c["purpose"] for c in export["consents"]} == {"entry", "payment"}
        assert export["operator_accesses"][0]["reason"] == AUDIT_REASON

        # --- printable: the print stylesheet keeps the disclosure and drops the controls
        page.emulate_media(media="print")
        assert page.locator("#consents").is_visible()
        assert page.locator("li.operator-access").is_visible()
        for control in ("#delete", "#request-form", "#export-link", "nav.languages"):
            assert not page.locator(control).is_visible(), control
        page.emulate_media(media="screen")

        # --- withdraw payment; entry stays
        jwk = public_jwk(live_app)
        consent_card(page, "payment").get_by_role(
            "button", name=t.gettext(messages.WITHDRAW_THIS)
        ).click()
        confirmation = page.locator("#confirmation-text")
        confirmation.wait_for(state="visible")
        assert confirmation.text_content() == t.gettext(messages.WITHDRAWN_DONE)
        assert consent_card(page, "payment").get_attribute("data-state") == "withdrawn"
        assert consent_card(page, "entry").get_attribute("data-state") == "active"
        assert consent_card(page, "payment").locator("button").count() == 0
        receipt = download_json(page, "#receipt-link", "withdrawal-receipt.json")
        assert receipt["type"] == "optin.withdrawal-receipt"
        assert receipt["withdrawn"] == [{"purpose": "payment", "venue": "onsen-hotel"}]
        assert verify_document(receipt, jwk)
        assert not verify_document({**receipt, "withdrawn": []}, jwk)
        assert_accessible(page, "the portal page after a withdrawal (confirmation)")

        async def consents(session: Any) -> dict[str, bool]:
            rows = await session.scalars(
                select(Consent).where(Consent.subject_id == UUID(subject_id))
            )
            return {str(c.purpose): c.withdrawn_at is None for c in rows}

        assert in_db(live_app, consents) == {"entry": True, "payment": False}

        # --- bring the deletion date forward
        earlier = deadline - timedelta(days=2)
        page.fill("#retention-until", earlier.isoformat())
        page.get_by_role("button", name=t.gettext(messages.SHORTEN_BUTTON)).click()
        page.wait_for_function(
            "(text) => document.getElementById('confirmation-text').textContent === text",
            arg=t.gettext(messages.RETENTION_CHANGED),
        )
        assert page.locator("#retention-date").text_content() == t.gettext(
            messages.DELETION_DATE, date=t.format_date(earlier)
        )

        # --- a request the person cannot do alone, with a due date
        page.select_option("#request-kind", "correction")
        page.fill("#request-details", "Please correct the spelling of my email address.")
        page.get_by_role("button", name=t.gettext(messages.REQUEST_SEND)).click()
        filed = page.locator("li.privacy-request")
        filed.wait_for(state="visible")
        assert t.gettext(messages.REQUEST_KIND_CORRECTION) in (filed.text_content() or "")
        assert t.gettext(messages.ANSWER_DUE) in (filed.text_content() or "")

        # --- delete everything, after one confirmation
        ask = page.get_by_role("button", name=t.gettext(messages.DELETE_BUTTON))
        ask.click()
        assert ask.get_attribute("aria-expanded") == "true"
        assert page.evaluate("document.activeElement.id") == "delete-question"
        assert_accessible(page, "the deletion confirmation step")
        page.get_by_role("button", name=t.gettext(messages.DELETE_YES)).click()
        deleted = page.locator("#deleted-title")
        deleted.wait_for(state="visible")
        assert deleted.text_content() == t.gettext(messages.DELETED_HEADING)
        assert page.locator("#subject-email").count() == 0  # nothing personal left on screen
        receipt = download_json(page, "#deletion-receipt-link", "deletion-receipt.json")
        assert receipt["type"] == "optin.deletion-receipt"
        assert receipt["subject"] == export["subject"]["receipt_pseudonym"]
        assert verify_document(receipt, jwk)
        assert_accessible(page, "the deleted state")

        # The session is over.
        assert page.request.get(f"{live_app.url}/api/v1/portal/me").status == 401
        page.goto(f"{live_app.url}/en/portal")
        assert page.locator("h1").text_content() == t.gettext(messages.NOT_SIGNED_IN)

    async def remains(session: Any) -> tuple[str, str | None, int, int]:
        subject = await session.get(Subject, UUID(subject_id))
        templates = await session.scalar(
            select(func.count())
            .select_from(FaceTemplate)
            .where(FaceTemplate.subject_id == subject.id)
        )
        sessions = await session.scalar(
            select(func.count())
            .select_from(PortalSession)
            .where(PortalSession.subject_id == subject.id)
        )
        return str(subject.status), subject.contact_ciphertext, templates, sessions

    assert in_db(live_app, remains) == ("deleted", None, 0, 0)


def test_recovery_code_sign_in_and_sign_out(live_app: LiveApp, new_page: NewPage) -> None:
    t = translator("ja")
    enrolled = enroll(live_app, KIT, "kit@example.org", lang="ja")
    code = str(enrolled["recovery_code"])
    with new_page(locale="ja-JP") as page:
        page.goto(f"{live_app.url}/portal/sign-in")
        assert page.url == f"{live_app.url}/ja/portal/sign-in"
        assert page.get_attribute("html", "lang") == "ja"
        assert_accessible(page, "the sign-in page (recovery code)")

        # Nothing typed, then a wrong code: readable errors, in Japanese, on the field.
        submit = page.locator("#recovery-form button[type='submit']")
        submit.click()
        error = page.locator("#recovery-error")
        assert error.text_content() == t.gettext(messages.RECOVERY_MISSING)
        page.fill("#recovery-code", "AAAAA-BBBBB-CCCCC-DDDDD")
        submit.click()
        page.wait_for_function(
            "(text) => document.getElementById('recovery-error').textContent === text",
            arg=t.gettext(messages.RECOVERY_WRONG),
        )
        assert page.get_attribute("#recovery-code", "aria-invalid") == "true"
        assert_accessible(page, "the sign-in page with an error")

        # Typed in lower case, sent with the keyboard's Enter.
        page.fill("#recovery-code", code.lower())
        page.press("#recovery-code", "Enter")
        page.wait_for_url(f"{live_app.url}/ja/portal")
        assert page.locator("#subject-email").text_content() == "kit@example.org"
        assert t.gettext(messages.PURPOSE_PAYMENT) in (page.locator("#consents").text_content())

        # A change without the page's CSRF token is refused, in the person's language.
        forged = page.request.post(
            f"{live_app.url}/api/v1/portal/delete", headers={"Accept-Language": "ja"}
        )
        assert forged.status == 401
        assert forged.json()["detail"] == error_message("unauthorized", "ja")

        page.get_by_role("button", name=t.gettext(messages.SIGN_OUT)).click()
        page.wait_for_url(re.compile(r"/ja/portal\?signed-out=1$"))
        assert page.locator("[role=status]").text_content() == t.gettext(messages.SIGNED_OUT)
        assert page.request.get(f"{live_app.url}/api/v1/portal/me").status == 401
