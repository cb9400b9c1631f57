"""Renewing consent in the portal after a notice changed what a purpose means.

The person enrolled for entry and payment on version 1; version 2 changes entry. The disclosure
shows the entry consent waiting for renewal, the page offers version 2 to read with an unticked
box, and ``POST /api/v1/portal/renew`` (CSRF-protected, current notice only) renews it with a
signed receipt. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import jsonschema

from optin.crypto.signing import verify_document
from optin.db.enums import Language, Purpose
from optin.i18n import messages, translator

from support.enrollment_world import SAMPLES, EnrollmentWorld


async def _enroll_and_sign_in(world: EnrollmentWorld) -> str:
    response = await world.client.post(
        "/api/v1/enrollments",
        data={
            "notice_id": world.notices["en"],
            "locale": "en",
            "email": "visitor@example.org",
            "purposes": ["entry", "payment"],
            "venues": ["onsen-hotel"],
            "trip_end": (date.today() + timedelta(days=5)).isoformat(),
        },
        files={"photo": ("selfie.jpg", (SAMPLES / "obama/obama_4.jpg").read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    [mail] = world.smtp.wait_for(1)
    match = re.search(r"token=(optin_signin_[A-Za-z0-9_-]+)", mail.text)
    assert match, mail.text
    signed = await world.client.post("/api/v1/portal/sign-in", json={"token": match.group(1)})
    assert signed.status_code == 200, signed.text
    return str(signed.json()["csrf_token"])


def _by_purpose(me: dict[str, Any], purpose: str) -> list[dict[str, Any]]:
    return [c for c in me["consents"] if c["purpose"] == purpose]


async def test_renew_a_consent_after_a_change_of_purpose(world: EnrollmentWorld) -> None:
    csrf = await _enroll_and_sign_in(world)
    schema = (await world.client.get("/api/v1/portal/export.schema.json")).json()
    me = (await world.client.get("/api/v1/portal/me")).json()
    jsonschema.validate(me, schema)
    assert {c["renewal_required_at"] for c in me["consents"]} == {None}

    v2, set_aside = await world.change_purposes(Purpose.ENTRY)
    assert set_aside == 1

    me = (await world.client.get("/api/v1/portal/me")).json()
    jsonschema.validate(me, schema)
    (entry,) = _by_purpose(me, "entry")
    (payment,) = _by_purpose(me, "payment")
    assert entry["renewal_required_at"] is not None
    assert entry["withdrawn_at"] is None
    assert entry["notice"]["version"] == 1
    assert payment["renewal_required_at"] is None

    # The page: the state, the new text to read (its own change section first), an unticked
    # box and a button; the payment consent stays in effect.
    t = translator("en")
    page = (await world.client.get("/en/portal")).text
    assert t.gettext(messages.RENEWAL_HEADING) in page
    assert t.gettext(messages.CONSENT_NEEDS_RENEWAL) in page
    assert "What changes in this version" in page
    assert f'data-notice="{v2[Language.EN]}"' in page
    (box,) = re.findall(r'<input type="checkbox" id="renew-agree-[^>]*>', page)
    assert "checked" not in box
    assert page.count('class="renew-form') == 1
    assert t.gettext(messages.RENEWAL_BUTTON) in page
    # In Japanese: the Japanese text of version 2.
    page_ja = (await world.client.get("/ja/portal")).text
    assert f'data-notice="{v2[Language.JA]}"' in page_ja
    assert translator("ja").gettext(messages.RENEWAL_HEADING) in page_ja
    assert "この版での変更点" in page_ja

    body = {"purpose": "entry", "venue": "onsen-hotel", "notice_id": v2[Language.EN]}
    # A change: needs the CSRF token.
    forged = await world.client.post("/api/v1/portal/renew", json=body)
    assert forged.status_code == 401
    # Only on the current text: the version the person agreed to before is refused.
    stale = await world.client.post(
        "/api/v1/portal/renew",
        json={**body, "notice_id": world.notices["en"]},
        headers={"x-csrf-token": csrf, "accept-language": "ja"},
    )
    assert stale.status_code == 409, stale.text
    assert stale.json()["type"].endswith("notice-outdated")
    assert stale.json()["detail"] == translator("ja").gettext(
        messages.ERROR_MESSAGES["notice-outdated"]
    )
    # Nothing to renew for payment, which did not change.
    unchanged = await world.client.post(
        "/api/v1/portal/renew",
        json={**body, "purpose": "payment"},
        headers={"x-csrf-token": csrf},
    )
    assert unchanged.status_code == 404
    # Unknown fields are refused, like everywhere in the portal API.
    extra = await world.client.post(
        "/api/v1/portal/renew", json={**body, "pre_ticked": True}, headers={"x-csrf-token": csrf}
    )
    assert extra.status_code == 400

    renewed = await world.client.post(
        "/api/v1/portal/renew", json=body, headers={"x-csrf-token": csrf}
    )
    assert renewed.status_code == 200, renewed.text
    receipt = renewed.json()
    assert receipt["type"] == "optin.renewal-receipt"
    assert receipt["renewed"] == [{"purpose": "entry", "venue": "onsen-hotel"}]
    assert receipt["notice"]["id"] == v2[Language.EN]
    assert receipt["notice"]["version"] == 2
    assert verify_document(receipt, world.keys.signer.verifier)
    assert not verify_document({**receipt, "renewed": []}, world.keys.signer.verifier)

    # History kept: the version-1 consent closed (still showing why), a new one on version 2.
    me = (await world.client.get("/api/v1/portal/me")).json()
    jsonschema.validate(me, schema)
    old, new = _by_purpose(me, "entry")
    assert old["notice"]["version"] == 1
    assert old["withdrawn_at"] is not None
    assert old["renewal_required_at"] is not None
    assert new["notice"]["version"] == 2
    assert new["notice"]["id"] == v2[Language.EN]
    assert new["withdrawn_at"] is None
    assert new["renewal_required_at"] is None
    assert new["method"] == "portal-renewal"
    page = (await world.client.get("/en/portal")).text
    assert 'id="renewal"' not in page
    assert t.gettext(messages.CONSENT_NEEDS_RENEWAL) not in page

    again = await world.client.post(
        "/api/v1/portal/renew", json=body, headers={"x-csrf-token": csrf}
    )
    assert again.status_code == 404
