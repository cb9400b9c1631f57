"""The portal page rendered from a full disclosure document, in all four languages (no browser).

The browser flow meets a fresh enrolment, so events, closed requests, withdrawn consents and the
like stay empty there; here every section holds something, every label must come out
translated, every time in the venue's zone, and the page must stay free of inline script.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from babel.dates import get_timezone_location

from enrollment_app.web import portal
from enrollment_app.web.templating import environment
from optin.config import ConsoleSettings, OperatorSettings
from optin.i18n import HTML_LANG, SUPPORTED, messages, translator
from optin.services.disclosure import disclosure_schema

NOW = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)  # 12:00 in Japan
NOTICE_TEXT = (
    "Who is responsible\nThe operator runs this service.\n\n"
    "Where\n- Onsen Hotel\n- Adventure Park\n\nYour rights\nYou can withdraw at any time."
)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _consent(purpose: str, venue: str, name: str, withdrawn: bool) -> dict[str, Any]:
    return {
        "purpose": purpose,
        "venue": {"slug": venue, "name": name},
        "granted_at": _iso(NOW),
        "withdrawn_at": _iso(NOW + timedelta(hours=1)) if withdrawn else None,
        "renewal_required_at": None,
        "method": "web-checkbox",
        "notice": {
            "id": "0192d1c4-0000-7000-8000-000000000001",
            "version": 3,
            "language": "en",
            "sha256": "a" * 64,
            "title": "Opt-in face recognition: privacy notice",
            "text": NOTICE_TEXT,
        },
    }


def full_document(retention_days: int = 10) -> dict[str, Any]:
    later = NOW + timedelta(days=1)
    document = {
        "type": "optin.disclosure",
        "version": 1,
        "generated_at": _iso(NOW),
        "controller": {
            "name": "Operator",
            "contact_email": "privacy@optin.example",
            "contact_phone": "",
            "contact_address": "",
        },
        "subject": {
            "id": "0192d1c4-0000-7000-8000-0000000000aa",
            "receipt_pseudonym": "sub_pseudonym",
            "status": "active",
            "locale": "ko",
            "enrolled_at": _iso(NOW),
            "enrollment_method": "camera_liveness",
            "retention_until": _iso(
                datetime.combine(
                    (datetime.now(UTC) + timedelta(days=retention_days)).date(),
                    datetime.max.time(),
                    tzinfo=UTC,
                )
            ),
            "contact": {"email": "guest@example.org"},
        },
        "consents": [
            _consent("entry", "onsen-hotel", "Onsen Hotel", withdrawn=False),
            _consent("payment", "onsen-hotel", "Onsen Hotel", withdrawn=True),
            _consent("entry", "adventure-park", "Adventure Park", withdrawn=False),
        ],
        "face_templates": [
            {"id": "t1", "model": "dlib_resnet_v1", "created_at": _iso(NOW), "stored_as": "x"}
        ],
        "entitlements": [
            {
                "venue": "onsen-hotel",
                "product": "Stay pass",
                "valid_from": _iso(NOW),
                "valid_until": _iso(later),
                "source": "enrollment",
            }
        ],
        "events": [
            {
                "venue": "onsen-hotel",
                "gate": "Main entrance",
                "purpose": "entry",
                "outcome": "granted",
                "occurred_at": _iso(NOW),
            },
            {
                "venue": "onsen-hotel",
                "gate": "Shop till 2",
                "purpose": "payment",
                "outcome": "no_consent",
                "occurred_at": _iso(later),
            },
        ],
        "privacy_requests": [
            {
                "id": "r1",
                "kind": "correction",
                "status": "completed",
                "received_at": _iso(NOW),
                "due_at": _iso(NOW + timedelta(days=14)),
                "closed_at": _iso(later),
                "outcome": "Email address corrected.",
            },
            {
                "id": "r2",
                "kind": "objection",
                "status": "in_progress",
                "received_at": _iso(later),
                "due_at": _iso(later + timedelta(days=14)),
                "closed_at": None,
                "outcome": None,
            },
        ],
        "operator_accesses": [
            {"when": _iso(NOW), "who": "operator", "action": "subject.read", "reason": "R-1"},
            {"when": _iso(later), "who": "system", "action": "retention.check", "reason": None},
        ],
        "venue_records": [
            {
                "venue": "onsen-hotel",
                "pseudonym": "v_onsen",
                "gallery_changes": [
                    {"action": "add", "at": _iso(NOW)},
                    {"action": "revoke", "at": _iso(later)},
                ],
            },
            {"venue": "adventure-park", "pseudonym": "v_park", "gallery_changes": []},
        ],
        "payments": {"methods": [], "pin": {"set": False, "locked_until": None}, "charges": []},
        "third_party_provisions": [],
        "provision_consents": [],
        "sign_in": {"note": "hashed"},
    }
    jsonschema.validate(document, disclosure_schema())
    return document


def render(lang: str, document: dict[str, Any], renewal: portal.RenewalNotice | None = None) -> str:
    t = translator(lang)
    context = portal.page_context(lang, OperatorSettings(), "portal")
    context.update(portal.disclosure_view(document, t, ZoneInfo("Asia/Tokyo"), renewal))
    # The portal page adds the privacy team's answer target from the settings (as portal_page).
    context["request_days"] = ConsoleSettings().request_target_days
    return environment().get_template("portal.html").render(**context)


@pytest.mark.parametrize("lang", SUPPORTED)
def test_every_section_in_every_language(lang: str) -> None:
    t = translator(lang)
    html = render(lang, full_document())
    assert f'<html lang="{HTML_LANG[lang]}">' in html
    for msgid in (
        messages.PORTAL_TITLE,
        messages.METHOD_CAMERA,
        messages.CONSENT_ACTIVE,
        messages.CONSENT_WITHDRAWN,
        messages.OUTCOME_GRANTED,
        messages.OUTCOME_NO_CONSENT,
        messages.REQUEST_KIND_CORRECTION,
        messages.REQUEST_COMPLETED,
        messages.REQUEST_IN_PROGRESS,
        messages.ACTOR_OPERATOR,
        messages.ACTOR_SYSTEM,
        messages.GATES_ADD,
        messages.GATES_REVOKE,
        messages.NOT_SHARED,
        messages.WITHDRAW_ALL,
    ):
        assert t.gettext(msgid) in html, msgid
    zone = get_timezone_location(ZoneInfo("Asia/Tokyo"), locale=t.locale)
    assert t.gettext(messages.TIMES_IN_ZONE, zone=zone) in html
    purpose = t.gettext(messages.PURPOSE_PAYMENT)
    assert t.gettext(messages.CONSENT_AT, purpose=purpose, venue="Onsen Hotel") in html
    # The notice in full, as sections; the person's data as given.
    for text in ("The operator runs this service.", "Adventure Park", "a" * 64):
        assert text in html
    for text in ("guest@example.org", "Email address corrected.", "R-1", "Shop till 2"):
        assert text in html
    # One withdraw button per consent still in effect, and one for all of them.
    assert html.count('data-action="withdraw"') == 2
    assert html.count('data-action="withdraw-all"') == 1
    # Times in Japan time, machine-readable beside the words.
    in_japan = t.format_datetime(NOW.astimezone(ZoneInfo("Asia/Tokyo")))
    assert f'<time datetime="2026-04-01T03:00:00+00:00">{in_japan}</time>' in html
    assert "None" not in re.sub(r"<[^>]+>", "", html).replace(t.gettext(messages.NONE_YET), "")
    for script in re.findall(r"<script[^>]*>", html):
        assert "src=" in script or 'type="application/json"' in script, script
    assert " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)


def test_deadline_form_allows_only_earlier_dates() -> None:
    html = render("en", full_document(retention_days=10))
    today = datetime.now(UTC).date()
    assert f'min="{today.isoformat()}"' in html
    assert f'max="{(today + timedelta(days=9)).isoformat()}"' in html
    # Due today: nothing earlier to choose; deletion stays available.
    due_today = render("en", full_document(retention_days=0))
    assert 'id="retention-form"' not in due_today
    assert 'data-action="delete-ask"' in due_today


def test_nothing_left_to_withdraw() -> None:
    document = full_document()
    for consent in document["consents"]:
        consent["withdrawn_at"] = _iso(NOW)
    html = render("en", document)
    assert 'data-action="withdraw' not in html
    assert translator("en").gettext(messages.NOTHING_CONSENTED) in html


@pytest.mark.parametrize("lang", SUPPORTED)
def test_consents_waiting_for_renewal(lang: str) -> None:
    """A change of purpose set both entry consents aside; the current notice names only the
    hotel, so only the hotel's can be renewed there; the park's can still be withdrawn."""
    t = translator(lang)
    document = full_document()
    for consent in document["consents"]:
        if consent["purpose"] == "entry":
            consent["renewal_required_at"] = _iso(NOW + timedelta(days=2))
    jsonschema.validate(document, disclosure_schema())
    renewal = portal.RenewalNotice(
        id="0192d1c4-0000-7000-8000-000000000004",
        version=4,
        language=lang,
        title="The new notice",
        body="What changes in this version\nEntry now also covers the spa.\n\n" + NOTICE_TEXT,
        sha256="b" * 64,
        purposes=frozenset({"entry", "payment"}),
        venues=frozenset({"onsen-hotel"}),
    )
    html = render(lang, document, renewal)
    for msgid in (
        messages.RENEWAL_HEADING,
        messages.RENEWAL_INTRO,
        messages.RENEWAL_SINCE,
        messages.RENEWAL_BUTTON,
        messages.RENEWAL_UNAVAILABLE,
    ):
        assert t.gettext(msgid) in html, msgid
    assert html.count(t.gettext(messages.CONSENT_NEEDS_RENEWAL)) == 2
    # The new text in full, in its own language, fingerprinted.
    assert "Entry now also covers the spa." in html
    assert f'lang="{HTML_LANG[lang]}" aria-labelledby="renewal-notice-title"' in html
    assert "b" * 64 in html
    # One explicit agreement, for the hotel's entry consent, never pre-ticked.
    entry = t.gettext(messages.PURPOSE_ENTRY)
    title = t.gettext(messages.CONSENT_AT, purpose=entry, venue="Onsen Hotel")
    assert t.gettext(messages.RENEWAL_AGREE, consent=title) in html
    (form,) = re.findall(r'<form class="renew-form[^>]*>', html)
    assert 'data-purpose="entry"' in form
    assert 'data-venue="onsen-hotel"' in form
    assert f'data-notice="{renewal.id}"' in form
    (box,) = re.findall(r'<input type="checkbox"[^>]*>', html)
    assert "checked" not in box
    # Waiting consents are live: each can still be withdrawn instead.
    assert html.count('data-action="withdraw"') == 2
    # Without a current notice (or nothing it covers) there is nothing to renew on.
    assert 'class="renew-form' not in render(lang, document)


@pytest.mark.parametrize("lang", SUPPORTED)
def test_provisions_to_others_are_shown(lang: str) -> None:
    t = translator(lang)
    document = full_document()
    document["third_party_provisions"] = [
        {
            "id": "p1",
            "recipient": "Wakayama Prefectural Police",
            "basis": "law_enforcement",
            "basis_reference": "Warrant 2026-117",
            "items": ["consents", "events"],
            "venue": "onsen-hotel",
            "period_start": _iso(NOW),
            "period_end": _iso(NOW + timedelta(days=1)),
            "provided_at": _iso(NOW),
            "sha256": "b" * 64,
        },
        {
            "id": "p2",
            "recipient": "Shirahama Tourism Association",
            "basis": "consent",
            "basis_reference": None,
            "items": ["consents"],
            "venue": None,
            "period_start": None,
            "period_end": None,
            "provided_at": _iso(NOW),
            "sha256": "c" * 64,
        },
    ]
    jsonschema.validate(document, disclosure_schema())
    html = render(lang, document)
    assert t.gettext(messages.NOT_SHARED) not in html
    for text in ("Wakayama Prefectural Police", "Shirahama Tourism Association"):
        assert text in html
    # What was given, in the person's words rather than register names.
    for item in ("consents", "events"):
        assert f"<li>{t.gettext(messages.PROVISION_ITEMS[item])}</li>" in html
    assert t.gettext(messages.PROVISION_BY_LAW, reference="Warrant 2026-117") in html
    assert t.gettext(messages.PROVISION_BY_CONSENT) in html
    assert html.count('class="card provision"') == 2


INSURER_ID = "0192d1c4-0000-7000-8000-0000000000a1"
CLINIC_ID = "0192d1c4-0000-7000-8000-0000000000a2"
CLOSED_ID = "0192d1c4-0000-7000-8000-0000000000a3"


def _recipient(recipient_id: str, name: str, items: list[str]) -> dict[str, Any]:
    return {
        "id": recipient_id,
        "name": name,
        "purpose": f"{name} purpose",
        "items": items,
        "contact": f"{name} contact",
        "registered_at": _iso(NOW),
        "retired_at": None,
    }


def _agreement(recipient_id: str, name: str, withdrawn: bool) -> dict[str, Any]:
    return {
        "recipient_id": recipient_id,
        "recipient": name,
        "purpose": f"{name} purpose",
        "items": ["subjects.id"],
        "granted_at": _iso(NOW),
        "withdrawn_at": _iso(NOW + timedelta(hours=2)) if withdrawn else None,
    }


@pytest.mark.parametrize("lang", SUPPORTED)
def test_provision_choices_name_each_recipient_and_nothing_is_pre_ticked(lang: str) -> None:
    """Three recipients: one offered and not agreed to (agreed and withdrawn once before), one
    agreed to, one retired since the person agreed (withdrawable only). Every data item comes
    out in the page's language; each control names its recipient."""
    t = translator(lang)
    document = full_document()
    document["provision_consents"] = [
        _agreement(INSURER_ID, "Insurer", withdrawn=True),
        _agreement(CLINIC_ID, "Clinic", withdrawn=False),
        _agreement(CLOSED_ID, "Closed Co", withdrawn=False),
    ]
    document["third_party_provisions"] = [
        {
            "id": "0192d1c4-0000-7000-8000-0000000000b1",
            "recipient": "Wakayama Police",
            "basis": "law_enforcement",
            "basis_reference": "Warrant 7",
            "items": ["subjects.id", "events"],
            "venue": "onsen-hotel",
            "period_start": _iso(NOW),
            "period_end": _iso(NOW + timedelta(days=1)),
            "provided_at": _iso(NOW),
            "sha256": "c" * 64,
        }
    ]
    jsonschema.validate(document, disclosure_schema())
    offered = [
        _recipient(INSURER_ID, "Insurer", ["subjects.id", "events", "subjects.contact_ciphertext"]),
        _recipient(CLINIC_ID, "Clinic", ["subjects.id"]),
    ]
    context = portal.page_context(lang, OperatorSettings(), "portal")
    context.update(portal.disclosure_view(document, t, ZoneInfo("Asia/Tokyo"), None, offered))
    context["request_days"] = ConsoleSettings().request_target_days
    html = environment().get_template("portal.html").render(**context)

    # Each item in words, never as a register name.
    for name in ("subjects.id", "events", "subjects.contact_ciphertext"):
        assert t.gettext(messages.PROVISION_ITEMS[name]) in html
        assert f"<li>{name}</li>" not in html
    assert t.gettext(messages.PROVISION_BY_LAW, reference="Warrant 7") in html
    # One agree form, for the insurer only; its box is not ticked.
    assert html.count('class="recipient-form"') == 1
    assert f'data-recipient="{INSURER_ID}" aria-labelledby' in html
    assert 'type="checkbox" id="recipient-agree-1"' in html
    assert "checked" not in re.sub(r"aria-[a-z]+=\"[^\"]*\"", "", html)
    assert t.gettext(messages.RECIPIENT_AGREE, recipient="Insurer") in html
    assert t.gettext(messages.RECIPIENT_AGREE_BUTTON, recipient="Insurer") in html
    # Withdraw buttons for the clinic and the retired company, one each, each named.
    assert html.count('data-action="recipient-withdraw"') == 2
    for name in ("Clinic", "Closed Co"):
        assert t.gettext(messages.RECIPIENT_WITHDRAW_BUTTON, recipient=name) in html
    assert t.gettext(messages.RECIPIENT_RETIRED) in html
    for text in ("Insurer purpose", "Insurer contact", "Clinic purpose"):
        assert text in html
    # The insurer's earlier agreement and its withdrawal stay visible.
    withdrawn = t.format_datetime((NOW + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Tokyo")))
    assert withdrawn in html
    for msgid in (messages.RECIPIENTS_HEADING, messages.RECIPIENTS_INTRO, messages.GIVEN_HEADING):
        assert t.gettext(msgid) in html


def test_no_recipients_says_so() -> None:
    html = render("en", full_document())
    assert translator("en").gettext(messages.NO_RECIPIENTS) in html
    assert 'class="recipient-form"' not in html


def test_every_providable_item_has_words_for_the_person() -> None:
    from optin.services.provisions import PROVIDABLE

    assert set(messages.PROVISION_ITEMS) == set(PROVIDABLE)
