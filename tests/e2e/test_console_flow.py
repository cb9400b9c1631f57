"""The operator console in real headless Chromium, against the app over real HTTP.

Operators are made through the service with real TOTP secrets; every code the browser types is
computed here from the secret (RFC 6238), and each works once, as in production.

- Sign-in with password and code reaches the console, from a registered device only (each fresh
  browser first opens a one-time registration link), and each role sees only its own views:
  the administrator creates an operator and issues a device registration link for it (the
  operator's browser is refused before opening it; then the secret shown once signs in, and
  the operator revokes that device on their own devices page, which signs them out),
  registers and revokes a gate, publishes a notice; the auditor reads the log; venue staff see
  their gates; sign-out and an idle sign-out both return to the sign-in form, with the reason.
- A request handled end to end: a tourist enrols and asks for their data in the portal; the
  privacy officer finds it in the inbox (below an overdue request, highlighted and labelled),
  starts it, downloads the watermarked response package, closes it; a request taken by phone is
  entered and then verified with the person's recovery code; the tourist's portal shows the
  request completed and the export among the operator accesses.
- Sign-in outside the allowed hours is refused with the hours named, and the browser stays on
  the form; a locked account and a wrong code say so readably.

axe-core checks the sign-in page (empty and with an error) and the inbox: no violations.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import pytest
from browser_support import SAMPLES, TIMEOUT_MS, LiveApp, run_async
from sqlalchemy import select, update

from enrollment_app.web.templating import TEMPLATES_DIR
from optin.crypto import totp
from optin.db.base import utcnow, uuid7
from optin.db.engine import create_engine, session_factory
from optin.db.enums import (
    EventOutcome,
    OperatorRole,
    Purpose,
    RequestChannel,
    RequestKind,
    RequestStatus,
)
from optin.db.models import AuditEntry, Event, OperatorSession, PrivacyRequest
from optin.db.models import Operator as OperatorRow
from optin.services.audit import Actor
from optin.services.gates import register_gate
from optin.services.operator_devices import issue_registration
from optin.services.operators import create_operator
from optin.services.venues import venues_by_slug

from support.console_world import PASSWORD, Credentials

pytestmark = pytest.mark.browser

DESK = {"width": 1280, "height": 900}
KIT = SAMPLES / "kit_harington" / "kit_harington_1.jpg"
ROSE = SAMPLES / "rose_leslie" / "rose_leslie_1.jpg"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- helpers ----------------------------------------------------------------------------------


def in_db(app: LiveApp, query: Any) -> Any:
    async def run() -> Any:
        engine = create_engine(app.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                return await query(session)
        finally:
            await engine.dispose()

    return run_async(run)


def make_operator(
    app: LiveApp,
    role: OperatorRole,
    username: str,
    *,
    venue: str | None = None,
    hours: tuple[str, ...] = ("daily 00:00-24:00",),
) -> Credentials:
    async def create(session: Any) -> Credentials:
        venue_id = (await venues_by_slug(session, [venue]))[0].id if venue else None
        created = await create_operator(
            session,
            app.keys.master,
            username=username,
            password=PASSWORD,
            role=role,
            venue_id=venue_id,
            networks=("127.0.0.0/8",),
            hours=hours,
            actor=Actor.system(),
        )
        return Credentials(username, PASSWORD, created.totp_secret, role)

    credentials: Credentials = in_db(app, create)
    return credentials


def fresh_code(credentials: Credentials) -> str:
    """A code for the current 30 s step (or the next, after a sign-in in this step): valid for
    at least the next 30 seconds, and never one the server has accepted already."""
    credentials.offered_step = max(totp.step_of(time.time()), credentials.accepted_step + 1)
    return totp.code_at(credentials.secret, credentials.offered_step)


def assert_accessible(page: Any, where: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    assert results.violations_count == 0, f"axe-core on {where}:\n{results.generate_report()}"


@contextmanager
def desk(browser: Any, app: LiveApp) -> Iterator[Any]:
    """A fresh browser (own cookies) with a desk-sized window."""
    context = browser.new_context(
        viewport=DESK, locale="en-GB", base_url=app.url, accept_downloads=True
    )
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def fill_sign_in(page: Any, credentials: Credentials, *, code: str | None = None) -> None:
    page.fill("#username", credentials.username)
    page.fill("#password", credentials.password)
    page.fill("#code", code or fresh_code(credentials))
    page.click("#sign-in-button")


def open_registration_link(page: Any, url: str) -> None:
    """What the operator does with a registration link: open it, press the button."""
    page.goto(url)
    page.click("#device-button")
    wait_for_text(page, "#device-message", "This browser is now registered for")


def register_browser(page: Any, app: LiveApp, credentials: Credentials) -> None:
    """Make this (fresh) browser a registered device of the account, through the real page."""

    async def issue(session: Any) -> str:
        operator = await session.scalar(
            select(OperatorRow).where(OperatorRow.username == credentials.username)
        )
        registration = await issue_registration(
            session, app.keys.tokens, operator, "test browser", Actor.system()
        )
        return registration.url(app.url)

    open_registration_link(page, in_db(app, issue))


def sign_in(
    page: Any, app: LiveApp, credentials: Credentials, start: str, *, register: bool = True
) -> None:
    if register:
        register_browser(page, app, credentials)
    page.goto("/console")
    fill_sign_in(page, credentials)
    page.wait_for_url(f"{app.url}{start}")
    credentials.accepted()
    page.locator("#session").wait_for(state="visible")
    page.locator("#view").wait_for(state="visible")


def visible_nav(page: Any) -> list[str]:
    return [text.strip() for text in page.locator("nav.views li:visible a").all_text_contents()]


def wait_for_text(page: Any, selector: str, text: str) -> None:
    """Until the element's text contains ``text`` (the script fills it after an API call)."""
    page.wait_for_function(
        "([selector, text]) => (document.querySelector(selector)?.textContent || '')"
        ".includes(text)",
        arg=[selector, text],
    )


def download_json(page: Any, selector: str) -> tuple[str, dict[str, Any]]:
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.click(selector)
    download = info.value
    document: dict[str, Any] = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    return download.suggested_filename, document


def enroll(app: LiveApp, photo: Path, email: str) -> dict[str, Any]:
    response = httpx.post(
        f"{app.url}/api/v1/enrollments",
        data={
            "notice_id": app.notices["en"].id,
            "locale": "en",
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


def portal_request(app: LiveApp, recovery_code: str, kind: str, details: str) -> dict[str, Any]:
    """The tourist signs in to the portal with their recovery code and files a request."""
    with httpx.Client(base_url=app.url, timeout=30) as client:
        signed = client.post("/api/v1/portal/sign-in", json={"recovery_code": recovery_code})
        assert signed.status_code == 200, signed.text
        filed = client.post(
            "/api/v1/portal/requests",
            json={"kind": kind, "details": details},
            headers={"X-CSRF-Token": client.cookies["optin_csrf"]},
        )
        assert filed.status_code in {200, 201}, filed.text
        document: dict[str, Any] = filed.json()
        return document


def add_overdue_request(app: LiveApp) -> str:
    """A request taken by post 40 days ago, never verified: past its target and its deadline."""
    received = utcnow() - timedelta(days=40)

    async def insert(session: Any) -> str:
        request = PrivacyRequest(
            id=uuid7(),
            subject_id=None,
            kind=RequestKind.DELETION,
            status=RequestStatus.RECEIVED,
            channel=RequestChannel.POST,
            details="Letter asking to delete everything; no recovery code enclosed.",
            identity_check="Not verified: the letter gave no recovery code",
            received_at=received,
            due_at=received + timedelta(days=30),
            target_at=received + timedelta(days=7),
        )
        session.add(request)
        await session.commit()
        return str(request.id)

    request_id: str = in_db(app, insert)
    return request_id


def other_weekday() -> str:
    """A day that is not today in the console's time zone (nor either side of it)."""
    today = utcnow().astimezone(ZoneInfo("Asia/Tokyo")).weekday()
    return DAYS[(today + 3) % 7]


# --- pages over plain HTTP --------------------------------------------------------------------


def test_console_pages_are_shells_in_english_with_a_strict_policy(live_app: LiveApp) -> None:
    for path in (
        "/console",
        "/console/requests",
        "/console/requests/new",
        f"/console/requests/{uuid7()}",
        "/console/people",
        "/console/operators",
        "/console/venues",
        "/console/notices",
        "/console/venue",
        "/console/audit",
        "/console/statistics",
        "/console/recipients",
        "/console/provisions",
        "/console/devices",
        "/console/device",
    ):
        response = httpx.get(f"{live_app.url}{path}", timeout=10)
        assert response.status_code == 200, path
        assert '<html lang="en">' in response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        # No inline script or style, no event-handler attributes.
        for script in re.findall(r"<script[^>]*>", response.text):
            assert "src=" in script or 'type="application/json"' in script, script
        assert " style=" not in response.text
        assert not re.search(r"\son[a-z]+=", response.text)
    for missing in ("/console/nothing", "/console/requests/not-a-uuid"):
        assert httpx.get(f"{live_app.url}{missing}", timeout=10).status_code == 404


def test_console_templates_mark_nothing_for_translation() -> None:
    """The console is English only (an operators' tool): its templates use no ``_()``, so the
    catalog rule for the tourist pages (tests/unit/i18n) has nothing to check there."""
    templates = sorted((TEMPLATES_DIR / "console").glob("*.html"))
    assert templates
    for template in templates:
        source = template.read_text(encoding="utf-8")
        assert not re.search(r"\b_\(|gettext\(", source), template.name


# --- sign-in, and what each role sees ---------------------------------------------------------


def test_sign_in_with_totp_shows_each_role_its_views(browser: Any, live_app: LiveApp) -> None:
    admin = make_operator(live_app, OperatorRole.ADMINISTRATOR, "admin-a")
    officer = make_operator(live_app, OperatorRole.PRIVACY_OFFICER, "officer-a")
    auditor = make_operator(live_app, OperatorRole.AUDITOR, "auditor-a")
    staff = make_operator(live_app, OperatorRole.VENUE_STAFF, "staff-a", venue="onsen-hotel")

    # --- the administrator
    with desk(browser, live_app) as page:
        page.goto("/console")
        assert page.title() == "Sign in · optin console"
        assert_accessible(page, "the console sign-in page")
        sign_in(page, live_app, admin, "/console/operators")
        assert visible_nav(page) == [
            "Operators",
            "Venues and gates",
            "Notices",
            "Sessions",
            "Statistics",
            "Recipients",
        ]
        assert page.locator("#session-user").text_content() == "admin-a"
        assert page.locator("#session-role").text_content() == "Administrator"
        assert page.locator("#session-ends").get_attribute("datetime")
        wait_for_text(page, "#operators tbody", "officer-a")
        assert "auditor-a" in (page.locator("#operators tbody").text_content() or "")

        # Create an operator: the TOTP secret is shown once, and it works.
        page.fill("#op-username", "officer-b")
        page.fill("#op-password", PASSWORD)
        page.select_option("#op-role", "privacy_officer")
        page.fill("#op-hours", "daily 00:00-24:00")
        page.click("#operator-form button[type='submit']")
        page.locator("#operator-created").wait_for(state="visible")
        assert page.locator("#created-username").text_content() == "officer-b"
        secret = page.locator("#created-secret").text_content() or ""
        assert re.fullmatch(r"[A-Z2-7]{32}", secret), secret
        assert (page.locator("#created-uri").text_content() or "").startswith("otpauth://totp/")
        wait_for_text(page, "#operators tbody", "officer-b")

        # Issue a registration link for the new operator's device: shown once, works once.
        assert page.locator("#device-operator option:checked").text_content() == "officer-b"
        page.fill("#device-label", "Officer B laptop")
        page.click("#device-form button[type='submit']")
        page.locator("#device-link").wait_for(state="visible")
        link = page.locator("#device-link-url").text_content() or ""
        assert re.fullmatch(rf"{re.escape(live_app.url)}/console/device#optin_device_reg_\S+", link)
        wait_for_text(page, "#devices tbody", "Link not used yet")

        # Register a gate (its token shown once), then revoke it.
        page.click("nav.views >> text=Venues and gates")
        page.wait_for_url(f"{live_app.url}/console/venues")
        wait_for_text(page, "#venues tbody", "Onsen Hotel Shirahama")
        page.select_option("#gates-venue", "onsen-hotel")
        page.fill("#gate-name", "Main entrance")
        page.click("#gate-form button[type='submit']")
        page.locator("#gate-token").wait_for(state="visible")
        assert (page.locator("#gate-token-value").text_content() or "").startswith("optin_gate_")
        wait_for_text(page, "#gates tbody", "Main entrance")
        assert "Never" in (page.locator("#gates tbody").text_content() or "")
        page.get_by_role("button", name="Revoke Main entrance").click()
        wait_for_text(page, "#gates-status", "revoked")
        assert "Revoked" in (page.locator("#gates tbody").text_content() or "")

        # Publish a notice announced for later, changing the payment purpose.
        page.click("nav.views >> text=Notices")
        page.wait_for_url(f"{live_app.url}/console/notices")
        wait_for_text(page, "#notices tbody", "In effect")
        page.check("#changed-payment")
        later = (utcnow() + timedelta(days=10)).strftime("%Y-%m-%dT10:00")
        page.fill("#notice-effective", later)
        page.click("#notice-form button[type='submit']")
        wait_for_text(page, "#notice-status", "Version 2 published")
        assert "Announced" in (page.locator("#notices tbody").text_content() or "")

        # An administrator's browser cannot reach a privacy officer's page.
        page.goto("/console/requests")
        page.locator("#view-denied").wait_for(state="visible")

    # The operator the administrator created: refused from a browser that is not registered,
    # then registers it with the link and signs in with the secret shown once.
    created = Credentials("officer-b", PASSWORD, secret, OperatorRole.PRIVACY_OFFICER)
    with desk(browser, live_app) as page:
        page.goto("/console")
        fill_sign_in(page, created)
        wait_for_text(page, "#sign-in-error", "registered")
        assert page.locator("#sign-in-error").text_content() == (
            "Sign-in refused. Sign-in is allowed only from a device registered for your account; "
            "ask an administrator for a device registration link."
        )
        open_registration_link(page, link)
        assert_accessible(page, "the device registration page")
        assert page.url == f"{live_app.url}/console/device"  # the code left the address bar
        cookies = {c["name"]: c for c in page.context.cookies()}
        [device] = [c for n, c in cookies.items() if n.startswith("optin_console_device_")]
        assert device["httpOnly"]
        assert device["sameSite"] == "Strict"
        assert device["path"] == "/api/v1/console"
        page.click("#device-sign-in")
        page.wait_for_url(f"{live_app.url}/console")
        sign_in(page, live_app, created, "/console/requests", register=False)
        # Their own devices, from the header: revoking the one in use ends this session too.
        page.click("#my-devices")
        page.wait_for_url(f"{live_app.url}/console/devices")
        wait_for_text(page, "#devices tbody", "Officer B laptop")
        assert "Registered" in (page.locator("#devices tbody").text_content() or "")
        assert_accessible(page, "the devices page")
        page.get_by_role("button", name="Revoke Officer B laptop").click()
        page.wait_for_url(f"{live_app.url}/console")
        wait_for_text(page, "#sign-in-message", "session has ended")
    # The link worked once.
    with desk(browser, live_app) as page:
        page.goto(link)
        page.click("#device-button")
        wait_for_text(page, "#device-error", "used, expired or unknown")

    # --- the privacy officer, the auditor and venue staff start on their own views
    with desk(browser, live_app) as page:
        sign_in(page, live_app, officer, "/console/requests")
        assert visible_nav(page) == ["Requests", "Enter a request", "People", "Third parties"]
        assert page.locator("#session-role").text_content() == "Privacy officer"
    with desk(browser, live_app) as page:
        sign_in(page, live_app, auditor, "/console/audit")
        assert visible_nav(page) == ["Audit log", "Sessions"]
        wait_for_text(page, "#audit tbody", "console.signed_in")
        assert "gate.revoked" in (page.locator("#audit tbody").text_content() or "")
        page.click("#verify-chain")
        wait_for_text(page, "#chain-result", "Audit log intact")
        assert page.locator("#chain-result").get_attribute("data-ok") == "true"

        # An entry edited behind the log's back breaks the chain, and the page says where.
        async def edit(session: Any, reason: str | None) -> int:
            entry = await session.scalar(
                select(AuditEntry).where(AuditEntry.action == "gate.revoked")
            )
            original, entry.reason = entry.reason, reason
            await session.commit()
            return int(entry.seq) if original is None else -1

        seq = in_db(live_app, lambda session: edit(session, "tidied up"))
        try:
            page.click("#verify-chain")
            wait_for_text(page, "#chain-result", "Audit log damaged")
            assert page.locator("#chain-result").get_attribute("data-ok") == "false"
            assert f"First bad entry: no. {seq}." in (
                page.locator("#chain-result").text_content() or ""
            )
        finally:
            in_db(live_app, lambda session: edit(session, None))

        # Auditors also see who is signed in, from which device and for how long; they cannot
        # end anyone's session (administrators can).
        page.click("nav.views >> text=Sessions")
        wait_for_text(page, "#sessions tbody", "Open (this session)")
        table = page.locator("#sessions tbody").text_content() or ""
        assert "auditor-a" in table
        assert "127.0.0.1" in table
        assert page.locator("#sessions tbody button").count() == 0
    with desk(browser, live_app) as page:
        sign_in(page, live_app, staff, "/console/venue")
        assert visible_nav(page) == ["My venue", "Statistics"]
        wait_for_text(page, "#venue-name", "Onsen Hotel Shirahama")
        wait_for_text(page, "#gates tbody", "Main entrance")

        # Sign out: back to the sign-in form, which says so.
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{live_app.url}/console")
        assert page.locator("#sign-in-message").text_content() == "You have signed out."
        assert page.request.get(f"{live_app.url}/api/v1/console/me").status == 401

    # --- idle too long: the next call is refused and the browser returns to sign-in
    with desk(browser, live_app) as page:
        sign_in(page, live_app, officer, "/console/requests")

        async def idle(session: Any) -> None:
            await session.execute(
                update(OperatorSession)
                .where(OperatorSession.ended_at.is_(None))
                .values(last_seen_at=utcnow() - timedelta(hours=1))
            )
            await session.commit()

        in_db(live_app, idle)
        page.click("nav.views >> text=People")
        page.wait_for_url(f"{live_app.url}/console")
        message = page.locator("#sign-in-message")
        message.wait_for(state="visible")
        assert message.text_content() == (
            "You were signed out (no activity for a while); sign in again."
        )
        assert page.locator("#sign-in-form").is_visible()


# --- a request handled end to end -------------------------------------------------------------


def test_a_request_handled_end_to_end(browser: Any, live_app: LiveApp) -> None:
    officer = make_operator(live_app, OperatorRole.PRIVACY_OFFICER, "officer-c")
    enrolled = enroll(live_app, KIT, "kit@example.org")
    subject_id = str(enrolled["subject_id"])
    recovery_code = str(enrolled["recovery_code"])
    filed = portal_request(live_app, recovery_code, "access", "Please send me all my data.")
    request_id = str(filed["id"])
    overdue_id = add_overdue_request(live_app)

    with desk(browser, live_app) as page:
        sign_in(page, live_app, officer, "/console/requests")
        wait_for_text(page, "#inbox-summary", "Overdue: 1.")

        # Earliest due date first: the overdue request leads, highlighted and labelled.
        rows = page.locator("#inbox tbody tr")
        assert rows.count() == 2
        first = rows.nth(0)
        assert first.get_attribute("data-request-id") == overdue_id
        assert "overdue" in (first.get_attribute("class") or "").split()
        assert "Overdue" in (first.text_content() or "")
        assert "10 days overdue" in (first.text_content() or "")
        # Highlighted as well as labelled (the label is what does not rely on colour).
        shade = first.locator("td").first.evaluate("td => getComputedStyle(td).backgroundColor")
        assert shade not in {"rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"}
        second = rows.nth(1)
        assert second.get_attribute("data-request-id") == request_id
        assert "On time" in (second.text_content() or "")
        assert "Access request" in (second.text_content() or "")
        assert_accessible(page, "the request inbox")

        # The portal request: the person proved who they are by signing in.
        second.get_by_role("link", name="Access request").click()
        page.wait_for_url(f"{live_app.url}/console/requests/{request_id}")
        wait_for_text(page, "#request-facts", "signed in to the portal")
        assert page.locator("#view-title").text_content() == "Access request"
        assert page.locator("nav.views [aria-current='page']").text_content() == "Requests"
        assert not page.locator("#verify-section").is_visible()
        assert_accessible(page, "a request")

        page.click("#start-button")
        wait_for_text(page, "#request-status", "in progress")
        assert "In progress" in (page.locator("#request-facts").text_content() or "")

        filename, package = download_json(page, "#package-button")
        assert re.fullmatch(r"optin-export-officer-c-\d{8}T\d{6}Z\.json", filename), filename
        assert package["watermark"]["exported_by"] == "officer-c"
        assert package["watermark"]["request_id"] == request_id
        assert package["disclosure"]["subject"]["id"] == subject_id
        assert package["disclosure"]["subject"]["contact"]["email"] == "kit@example.org"
        wait_for_text(page, "#request-status", "recorded in the audit log")

        page.check("#close-completed")
        page.fill("#close-outcome", "Sent the full export of your data by email.")
        page.click("#close-form button[type='submit']")
        wait_for_text(page, "#request-status", "closed as completed")
        assert "Completed" in (page.locator("#request-facts").text_content() or "")
        assert not page.locator("#close-section").is_visible()

        # The person's record: nothing is shown until a reason is given.
        page.get_by_role("link", name="Open this person's record").click()
        page.wait_for_url(f"{live_app.url}/console/people?subject={subject_id}")
        page.locator("#lookup-form").wait_for(state="visible")
        assert not page.locator("#record").is_visible()
        page.fill("#lookup-reason", "no")
        page.click("#lookup-form button[type='submit']")
        assert "at least 5 characters" in (page.locator("#lookup-error").text_content() or "")
        assert not page.locator("#record").is_visible()
        page.fill("#lookup-reason", f"Checking the answer to request {request_id}")
        page.click("#lookup-form button[type='submit']")
        page.locator("#record").wait_for(state="visible")
        assert page.locator("#record-title").text_content() == "Record of kit@example.org"
        accessed = page.locator("#record-body").text_content() or ""
        assert f"response to access request {request_id}" in accessed
        assert_accessible(page, "a person's record")

        # A request taken by phone, identity not yet checked; then verified with the code.
        page.click("nav.views >> text=Enter a request")
        page.wait_for_url(f"{live_app.url}/console/requests/new")
        page.select_option("#new-kind", "correction")
        page.select_option("#new-channel", "phone")
        page.fill("#new-details", "Caller asks to correct the spelling of their email address.")
        page.fill("#new-identity", "Not checked yet: caller will read out the recovery code.")
        page.click("#new-request-form button[type='submit']")
        page.wait_for_url(re.compile(r"/console/requests/[0-9a-f-]{36}$"))
        page.locator("#verify-section").wait_for(state="visible")
        assert "Not identified yet" in (page.locator("#request-facts").text_content() or "")
        page.fill("#verify-code", recovery_code.lower())
        page.fill("#verify-check", "Recovery code read out on the phone and matched.")
        page.click("#verify-form button[type='submit']")
        wait_for_text(page, "#request-status", "Identity check recorded")
        assert subject_id in (page.locator("#request-facts").text_content() or "")
        assert not page.locator("#verify-section").is_visible()

    # The tourist's portal: the request completed, the export among the operator accesses.
    with desk(browser, live_app) as page:
        page.goto("/en/portal/sign-in")
        page.fill("#recovery-code", recovery_code)
        page.press("#recovery-code", "Enter")
        page.wait_for_url(f"{live_app.url}/en/portal")
        requests = page.locator("li.privacy-request")
        access = requests.filter(has_text="Sent the full export of your data by email.")
        assert access.count() == 1
        assert "Completed" in (access.text_content() or "")
        accesses = page.locator("li.operator-access").all_text_contents()
        assert any(f"response to access request {request_id}" in a for a in accesses), accesses

    async def exported(session: Any) -> list[tuple[str | None, str | None]]:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "subject.exported")
        )
        return [(e.subject_ref, e.reason) for e in rows]

    assert in_db(live_app, exported) == [(subject_id, f"response to access request {request_id}")]

    async def closed(session: Any) -> tuple[str, str | None]:
        request = await session.get(PrivacyRequest, UUID(request_id))
        return str(request.status), request.outcome

    assert in_db(live_app, closed) == ("completed", "Sent the full export of your data by email.")


# --- statistics and third-party provision -----------------------------------------------------


def add_entries(app: LiveApp, moments: list[datetime]) -> None:
    """Granted entries at the hotel by nobody in particular (statistics count decisions)."""

    async def insert(session: Any) -> None:
        gate, _ = await register_gate(session, app.keys.tokens, "onsen-hotel", "Stats gate")
        for moment in moments:
            session.add(
                Event(
                    venue_id=gate.venue_id,
                    gate_id=gate.id,
                    subject_id=None,
                    purpose=Purpose.ENTRY,
                    outcome=EventOutcome.GRANTED,
                    distance=0.3,
                    occurred_at=moment.astimezone(UTC),
                    idempotency_key=secrets.token_hex(16),
                )
            )
        await session.commit()

    in_db(app, insert)


def test_statistics_recipients_and_provision_in_the_console(
    browser: Any, live_app: LiveApp
) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    today = utcnow().astimezone(tokyo).date()
    # Today at the hotel: five entries at 10:00 and two at 11:00 (Tokyo time).
    add_entries(
        live_app,
        [datetime.combine(today, clock(10, m), tokyo) for m in range(5)]
        + [datetime.combine(today, clock(11, m), tokyo) for m in range(2)],
    )
    staff = make_operator(live_app, OperatorRole.VENUE_STAFF, "staff-s", venue="onsen-hotel")
    admin = make_operator(live_app, OperatorRole.ADMINISTRATOR, "admin-s")
    officer = make_operator(live_app, OperatorRole.PRIVACY_OFFICER, "officer-s")

    # Venue staff: per day, today is withheld (it holds a small hour); per hour, 10:00 shows.
    with desk(browser, live_app) as page:
        sign_in(page, live_app, staff, "/console/venue")
        page.click("nav.views >> text=Statistics")
        page.wait_for_url(f"{live_app.url}/console/statistics")
        wait_for_text(page, "#stats-summary", "Counts below 5 are withheld")
        day_row = page.locator("#entries tbody tr", has_text=today.isoformat())
        assert "Withheld" in (day_row.text_content() or "")
        assert "Withheld" in (page.locator("#entries tfoot").text_content() or "")
        assert_accessible(page, "venue statistics")
        page.check("#stats-by-hour")
        page.fill("#stats-from", today.isoformat())
        page.fill("#stats-to", today.isoformat())
        page.click("#stats-form button[type='submit']")
        wait_for_text(page, "#stats-summary", "per hour")
        ten = page.locator("#entries tbody tr", has_text=f"{today.isoformat()} 10:00")
        eleven = page.locator("#entries tbody tr", has_text=f"{today.isoformat()} 11:00")
        assert (ten.locator("td").text_content() or "").strip() == "5"
        assert (eleven.locator("td").text_content() or "").strip() == "Withheld"
        assert page.locator("#entries tbody tr").count() == 24

    # The administrator registers a recipient people may agree to.
    with desk(browser, live_app) as page:
        sign_in(page, live_app, admin, "/console/operators")
        page.click("nav.views >> text=Recipients")
        page.wait_for_url(f"{live_app.url}/console/recipients")
        page.locator("#recipients-empty").wait_for(state="visible")
        page.fill("#recipient-name", "Kumano Travel Insurance")
        page.fill("#recipient-purpose", "Settle claims for entries missed on your trip.")
        page.fill("#recipient-contact", "1-2-3 Tanabe, Wakayama")
        page.get_by_label("gate decisions: venue, gate, purpose, outcome, time").check()
        page.click("#recipient-form button[type='submit']")
        wait_for_text(page, "#recipients-status", "Kumano Travel Insurance registered")
        assert "Active" in (page.locator("#recipients tbody").text_content() or "")
        assert_accessible(page, "third-party recipients")

    # A tourist enrols and agrees in the portal to provision to that recipient.
    enrolled = enroll(live_app, ROSE, "rose@example.org")
    subject_id = str(enrolled["subject_id"])
    with httpx.Client(base_url=live_app.url, timeout=30) as tourist:
        signed = tourist.post(
            "/api/v1/portal/sign-in", json={"recovery_code": enrolled["recovery_code"]}
        )
        assert signed.status_code == 200, signed.text
        (recipient,) = tourist.get("/api/v1/provision-recipients").json()
        agreed = tourist.post(
            "/api/v1/portal/provision-consents",
            json={"recipient_id": recipient["id"], "consent": True},
            headers={"X-CSRF-Token": tourist.cookies["optin_csrf"]},
        )
        assert agreed.status_code == 200, agreed.text

        # The privacy officer provides (with consent) and releases to the police (on a basis).
        with desk(browser, live_app) as page:
            sign_in(page, live_app, officer, "/console/requests")
            page.click("nav.views >> text=Third parties")
            page.wait_for_url(f"{live_app.url}/console/provisions")
            page.locator("#provisions-empty").wait_for(state="visible")
            assert_accessible(page, "third-party provision")
            page.fill("#provide-subject", subject_id)
            page.select_option("#provide-recipient", label="Kumano Travel Insurance")
            with page.expect_download(timeout=TIMEOUT_MS) as info:
                page.click("#provide-form button[type='submit']")
            given = Path(info.value.path()).read_bytes()
            wait_for_text(page, "#provide-status", "recorded and shown to the person")
            digest = hashlib.sha256(given).hexdigest()
            # The file saved is the exact bytes recorded, not a re-serialised copy.
            assert digest in (page.locator("#provide-status").text_content() or "")
            assert json.loads(given)["provision"]["items"] == ["events"]

            page.fill("#release-subject", subject_id)
            page.fill("#release-authority", "Wakayama Prefectural Police")
            page.fill("#release-from", today.isoformat())
            page.fill("#release-to", today.isoformat())
            page.click("#release-form button[type='submit']")
            wait_for_text(page, "#release-error", "legal basis reference")
            page.fill("#release-basis", "Inquiry No. 88 (Shirahama station)")
            with page.expect_download(timeout=TIMEOUT_MS) as info:
                page.click("#release-form button[type='submit']")
            released = json.loads(Path(info.value.path()).read_bytes())
            wait_for_text(page, "#release-status", "recorded and shown to the person")
            assert set(released["data"]) == {"subject_id", "consents", "events"}
            assert "rose@example.org" not in json.dumps(released)
            table = page.locator("#provisions tbody").text_content() or ""
            assert "Law enforcement: Inquiry No. 88 (Shirahama station)" in table
            assert "The person's consent" in table

        # Both are in the person's disclosure.
        shown = tourist.get("/api/v1/portal/me").json()["third_party_provisions"]
        assert [(p["recipient"], p["basis"]) for p in shown] == [
            ("Kumano Travel Insurance", "consent"),
            ("Wakayama Prefectural Police", "law_enforcement"),
        ]
        assert shown[0]["sha256"] == digest


# --- refusals ---------------------------------------------------------------------------------


def test_sign_in_outside_the_allowed_hours_is_refused(browser: Any, live_app: LiveApp) -> None:
    day = other_weekday()
    night_shift = make_operator(
        live_app, OperatorRole.PRIVACY_OFFICER, "officer-hours", hours=(f"{day} 09:00-17:00",)
    )
    with desk(browser, live_app) as page:
        page.goto("/console")
        fill_sign_in(page, night_shift)
        error = page.locator("#sign-in-error")
        wait_for_text(page, "#sign-in-error", "allowed hours")
        assert error.text_content() == (
            "Sign-in refused. Sign-in is not allowed at this time for your account "
            f"(allowed hours: {day} 09:00-17:00, Asia/Tokyo)."
        )
        assert error.get_attribute("role") == "alert"
        assert page.url == f"{live_app.url}/console"
        assert page.locator("#sign-in-form").is_visible()
        assert page.locator("#code").input_value() == ""  # the code was used: type a new one
        assert "optin_console" not in {c["name"] for c in page.context.cookies()}
        assert_accessible(page, "the sign-in page with a refusal")


def test_wrong_code_and_locked_account_are_explained(browser: Any, live_app: LiveApp) -> None:
    officer = make_operator(live_app, OperatorRole.PRIVACY_OFFICER, "officer-locked")
    with desk(browser, live_app) as page:
        page.goto("/console")
        # Caught before sending: a code that is not six digits.
        fill_sign_in(page, officer, code="12345")
        assert page.locator("#sign-in-error").text_content() == (
            "The code has six digits, for example 123456."
        )
        assert page.get_attribute("#code", "aria-invalid") == "true"
        fill_sign_in(page, officer, code="000000")
        wait_for_text(page, "#sign-in-error", "wrong user name, password or code")

        limit = live_app.settings.console.lockout_after
        for _ in range(limit - 1):
            refused = httpx.post(
                f"{live_app.url}/api/v1/console/sign-in",
                json={"username": officer.username, "password": "x" * 12, "code": "000000"},
                timeout=30,
            )
            assert refused.status_code == 401
        fill_sign_in(page, officer)
        wait_for_text(page, "#sign-in-error", "locked until")
        text = page.locator("#sign-in-error").text_content() or ""
        assert re.fullmatch(
            r"Too many failed sign-ins: the account is locked until \d\d:\d\d \(Asia/Tokyo\)\. "
            r"An administrator can unlock the account sooner\.",
            text,
        ), text
        assert page.url == f"{live_app.url}/console"
