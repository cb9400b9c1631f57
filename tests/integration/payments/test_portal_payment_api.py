"""The portal's payment API: PIN and card token, with the CSRF header, never a card number."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from optin.crypto.records import open_record
from optin.db.engine import create_engine, session_factory
from optin.db.models import PaymentMethod, PaymentPin
from optin.errors import CryptoError
from optin.services.payment_methods import token_ref

from support.payment_world import PaymentWorld
from support.sandbox_provider import CARD_OK


async def _rows(payment_world: PaymentWorld) -> tuple[list[PaymentMethod], list[PaymentPin]]:
    engine = create_engine(payment_world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            methods = (
                await session.scalars(select(PaymentMethod).order_by(PaymentMethod.created_at))
            ).all()
            pins = (await session.scalars(select(PaymentPin))).all()
            return list(methods), list(pins)
    finally:
        await engine.dispose()


async def test_pin_needs_csrf_and_refuses_weak_pins(payment_world: PaymentWorld) -> None:
    await payment_world.payer(pin=None, card=None)
    forged = await payment_world.client.post("/api/v1/portal/pin", json={"pin": "2468"})
    assert forged.status_code == 401
    assert (await _rows(payment_world))[1] == []

    for pin, reason in (
        ("123", "pin-format"),
        ("1234567", "pin-format"),
        ("12a4", "pin-format"),
        ("0000", "pin-trivial"),
        ("1234", "pin-trivial"),
        ("987654", "pin-trivial"),
        ("1313", "pin-trivial"),
        ("123123", "pin-trivial"),
    ):
        refused = await payment_world.portal("POST", "pin", {"pin": pin})
        assert refused.status_code == 400, pin
        assert refused.json()["reason"] == reason, pin
    # In the person's language, and the PIN is never echoed back.
    in_japanese = await payment_world.client.post(
        "/api/v1/portal/pin",
        json={"pin": "1111"},
        headers={"x-csrf-token": payment_world.csrf or "", "accept-language": "ja"},
    )
    assert "推測" in in_japanese.json()["detail"]
    assert "1111" not in in_japanese.text

    assert (await payment_world.portal("POST", "pin", {"pin": "2468"})).json() == {"pin_set": True}
    (_, [pin]) = await _rows(payment_world)
    assert pin.pin_hash.startswith("$argon2id$")
    assert "2468" not in pin.pin_hash
    me = (await payment_world.portal("GET", "me")).json()
    assert me["payments"]["pin"] == {"set": True, "locked_until": None}
    # Changing it replaces the hash.
    assert (await payment_world.portal("POST", "pin", {"pin": "80531"})).status_code == 200
    (_, [changed]) = await _rows(payment_world)
    assert changed.id == pin.id
    assert changed.pin_hash != pin.pin_hash


async def test_a_card_is_kept_as_its_sealed_token_only(payment_world: PaymentWorld) -> None:
    payer = await payment_world.payer(card=None)
    token = payment_world.sandbox.tokenize(CARD_OK)

    forged = await payment_world.client.post("/api/v1/portal/payment-method", json={"token": token})
    assert forged.status_code == 401
    # Card details are no field of ours, and a number where the token goes is refused.
    with_number = await payment_world.portal(
        "POST", "payment-method", {"token": token, "number": CARD_OK}
    )
    assert with_number.status_code == 400
    for number in (CARD_OK, "4242 4242 4242 4242", "4242-4242-4242-4242"):
        as_token = await payment_world.portal("POST", "payment-method", {"token": number})
        assert (as_token.status_code, as_token.json()["reason"]) == (400, "card-number")
        assert "4242" not in as_token.text
    unknown = await payment_world.portal("POST", "payment-method", {"token": "tok_" + "x" * 24})
    assert (unknown.status_code, unknown.json()["code"]) == (422, "payment-provider-rejected")
    assert (await _rows(payment_world))[0] == []

    added = await payment_world.portal("POST", "payment-method", {"token": token})
    assert added.status_code == 200, added.text
    assert added.json()["label"] == "VISA 4242"
    ([method], _) = await _rows(payment_world)
    assert method.subject_id == payer.subject_id
    assert token.encode() not in method.token_ciphertext
    assert CARD_OK.encode() not in method.token_ciphertext
    dek = payment_world.world.keys.subjects.get(payer.subject_id)
    assert open_record(dek, token_ref(method.id, payer.subject_id), method.token_ciphertext) == (
        token.encode()
    )
    # Bound to its row: the same ciphertext under another row's reference does not open.
    with pytest.raises(CryptoError):
        open_record(dek, token_ref(payer.subject_id, payer.subject_id), method.token_ciphertext)
    me = (await payment_world.portal("GET", "me")).json()
    assert token not in json.dumps(me)
    assert not re.search(r"\b4242424242424242\b", json.dumps(me))

    # Removing it (either form) forgets the token; the row says when.
    removed = await payment_world.client.delete(
        "/api/v1/portal/payment-method", headers={"x-csrf-token": payment_world.csrf or ""}
    )
    assert removed.json() == {"removed": True, "label": "VISA 4242"}
    again = await payment_world.portal("POST", "payment-method/remove")
    assert again.status_code == 404
    ([method], _) = await _rows(payment_world)
    assert method.removed_at is not None
    assert method.token_ciphertext == b""
    assert (await payment_world.charge(payer.ref, 500)).json()["reason"] == "no-payment-method"


async def test_the_portal_page_sends_card_details_only_to_the_provider(
    payment_world: PaymentWorld,
) -> None:
    """The card form is the page's: no field name and no action, so nothing goes anywhere
    without the script, and the script's target is the provider's tokens endpoint."""
    await payment_world.payer(card=None)
    page = await payment_world.client.get("/en/portal")
    assert page.status_code == 200
    html = page.text
    form = html[html.index('<form id="card-form"') : html.index("</form>", html.index("card-form"))]
    assert "action=" not in form
    assert "name=" not in form
    for field in ("card-number", "card-exp-month", "card-exp-year", "card-cvc"):
        assert f'id="{field}"' in form
    config = json.loads(
        re.search(
            r'<script type="application/json" id="portal-config">(.*?)</script>', html, re.S
        ).group(1)  # type: ignore[union-attr]
    )
    assert config["payments"]["tokens"] == payment_world.sandbox.url + "/v1/tokens"
    assert config["api"]["paymentMethod"] == "/api/v1/portal/payment-method"
    assert "Payment by face is on at: Onsen Hotel" in html
    assert "No card yet." in html
