"""POST /api/v1/agent/charges against the real sandbox processor over HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import ChargeStatus, LedgerKind
from optin.db.models import Consent, PaymentMethod, PaymentPin

from support.payment_world import PIN, PROVIDER_TIMEOUT, PaymentWorld
from support.sandbox_provider import CARD_DECLINED, CARD_INSUFFICIENT_FUNDS


async def _db(payment_world: PaymentWorld, statement: object) -> None:
    engine = create_engine(payment_world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            await session.execute(statement)  # type: ignore[call-overload]
            await session.commit()
    finally:
        await engine.dispose()


async def test_a_charge_is_captured_once_and_replayed(payment_world: PaymentWorld) -> None:
    payer = await payment_world.payer()
    response = await payment_world.charge(payer.ref, 1200, "till-1:0001")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "captured"
    assert (body["amount_minor"], body["currency"], body["decline_code"]) == (1200, "JPY", None)

    again = await payment_world.charge(payer.ref, 1200, "till-1:0001")
    assert again.status_code == 200
    assert again.json() == body
    # The same key for another purchase is refused, not charged.
    other = await payment_world.charge(payer.ref, 1300, "till-1:0001")
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency-conflict"
    other_item = await payment_world.charge(payer.ref, 1200, "till-1:0001", item="Beer")
    assert other_item.json()["code"] == "idempotency-conflict"

    (paid,) = payment_world.sandbox.payments()
    assert (paid["status"], paid["amount_minor"], paid["captured_minor"]) == (
        "captured",
        1200,
        1200,
    )
    assert paid["idempotency_key"] == body["charge_id"]
    (charge,), ledger = await payment_world.rows()
    assert charge.status == ChargeStatus.CAPTURED
    assert charge.subject_id == payer.subject_id
    assert charge.provider_payment_id == paid["id"]
    assert [e.kind for e in ledger] == [LedgerKind.AUTHORIZATION, LedgerKind.CAPTURE]

    # The person sees it in the portal.
    me = (await payment_world.portal("GET", "me")).json()
    (seen,) = me["payments"]["charges"]
    assert (seen["item"], seen["amount_minor"], seen["status"]) == ("Onsen towel", 1200, "captured")
    assert [m["label"] for m in me["payments"]["methods"]] == ["VISA 4242"]
    assert "tok_" not in str(me)


async def test_declines_are_answers_not_errors(payment_world: PaymentWorld) -> None:
    declined = await payment_world.payer(card=CARD_DECLINED)
    response = await payment_world.charge(declined.ref, 800, "k-declined")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["decline_code"]) == (
        "declined",
        "card_declined",
    )
    # A retry answers the same, and asks the processor nothing new.
    again = await payment_world.charge(declined.ref, 800, "k-declined")
    assert again.json() == response.json()

    await payment_world.sign_in(declined.recovery_code)
    token = payment_world.sandbox.tokenize(CARD_INSUFFICIENT_FUNDS)
    replaced = await payment_world.portal("POST", "payment-method", {"token": token})
    assert replaced.json()["label"] == "VISA 9995"
    poor = await payment_world.charge(declined.ref, 800, "k-poor")
    assert poor.json()["decline_code"] == "insufficient_funds"

    charges, ledger = await payment_world.rows()
    assert [c.status for c in charges] == [ChargeStatus.DECLINED, ChargeStatus.DECLINED]
    assert [e.kind for e in ledger] == [LedgerKind.DECLINE, LedgerKind.DECLINE]
    assert [e.detail for e in ledger] == ["card_declined", "insufficient_funds"]
    assert len(payment_world.sandbox.payments()) == 2
    me = (await payment_world.portal("GET", "me")).json()
    methods = [(m["label"], m["removed_at"] is None) for m in me["payments"]["methods"]]
    assert methods == [("VISA 0002", False), ("VISA 9995", True)]


async def test_provider_timeout_then_retry_charges_exactly_once(
    payment_world: PaymentWorld,
) -> None:
    payer = await payment_world.payer()
    delay = PROVIDER_TIMEOUT + 1.0
    payment_world.sandbox.control(delay_seconds=delay)
    started = time.monotonic()
    first = await payment_world.charge(payer.ref, 1500, "k-slow")
    assert first.status_code == 503, first.text
    assert first.json()["code"] == "payment-provider-unavailable"
    (charge,), ledger = await payment_world.rows()
    assert charge.status == ChargeStatus.PENDING
    assert [e.kind for e in ledger] == [LedgerKind.FAILURE]

    # The processor finishes the first attempt on its own; the till retries the same key.
    payment_world.sandbox.control(delay_seconds=0)
    await asyncio.sleep(max(0.0, delay - (time.monotonic() - started)) + 0.3)
    retry = await payment_world.charge(payer.ref, 1500, "k-slow")
    assert retry.status_code == 200, retry.text
    assert retry.json()["status"] == "captured"
    assert retry.json()["charge_id"] == str(charge.id)

    ledger_at_sandbox = payment_world.sandbox.ledger()
    assert len(ledger_at_sandbox["payments"]) == 1
    assert ledger_at_sandbox["payments_per_key"] == {str(charge.id): 1}
    assert ledger_at_sandbox["payments"][0]["captured_minor"] == 1500
    (charge,), ledger = await payment_world.rows()
    assert charge.status == ChargeStatus.CAPTURED
    assert [e.kind for e in ledger].count(LedgerKind.CAPTURE) == 1
    assert [e.kind for e in ledger] == [
        LedgerKind.FAILURE,
        LedgerKind.AUTHORIZATION,
        LedgerKind.CAPTURE,
    ]


async def test_a_processor_error_is_retried_with_the_same_key(
    payment_world: PaymentWorld,
) -> None:
    payer = await payment_world.payer()
    payment_world.sandbox.control(fail_next=1)
    failed = await payment_world.charge(payer.ref, 700, "k-500")
    assert failed.status_code == 503
    assert failed.json()["code"] == "payment-provider-unavailable"
    retried = await payment_world.charge(payer.ref, 700, "k-500")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "captured"
    assert len(payment_world.sandbox.payments()) == 1
    _, ledger = await payment_world.rows()
    assert [e.kind for e in ledger] == [
        LedgerKind.FAILURE,
        LedgerKind.AUTHORIZATION,
        LedgerKind.CAPTURE,
    ]


async def test_pin_step_up_wrong_pins_and_lock_out(payment_world: PaymentWorld) -> None:
    payer = await payment_world.payer()
    above = 5000  # the hotel asks for the PIN above 3000 yen

    needed = await payment_world.charge(payer.ref, above, "k-pin")
    assert needed.status_code == 428
    assert needed.json()["code"] == "pin-required"
    ok = await payment_world.charge(payer.ref, above, "k-pin", pin=PIN)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "captured"

    attempts = []
    for pin in ("1357", "9753"):
        wrong = await payment_world.charge(payer.ref, above, "k-wrong", pin=pin)
        assert wrong.status_code == 422
        assert wrong.json()["code"] == "wrong-pin"
        attempts.append(wrong.json()["attempts_left"])
    assert attempts == [2, 1]
    locked = await payment_world.charge(payer.ref, above, "k-wrong", pin="1470")
    assert locked.status_code == 423
    assert locked.json()["code"] == "pin-locked"
    # The till is told when to try again: the lock's length, as a header and in the problem.
    lock_seconds = payment_world.settings.payments.pin_lock_minutes * 60
    retry_after = int(locked.headers["Retry-After"])
    assert lock_seconds - 10 <= retry_after <= lock_seconds
    assert locked.json()["retry_after"] == retry_after
    # Locked now: the right PIN does not help, on this key or another.
    for key in ("k-wrong", "k-after"):
        still = await payment_world.charge(payer.ref, above, key, pin=PIN)
        assert still.status_code == 423, still.text
    # A new charge meets the same lock, counting down (a replayed key repeats only the refusal).
    assert 0 < int(still.headers["Retry-After"]) <= retry_after
    # Small amounts need no PIN and still go through.
    small = await payment_world.charge(payer.ref, 500, "k-small")
    assert small.json()["status"] == "captured"

    # The lock ends after its time; then the right PIN works again.
    await _db(
        payment_world,
        update(PaymentPin)
        .where(PaymentPin.subject_id == payer.subject_id)
        .values(locked_until=utcnow() - timedelta(seconds=1)),
    )
    later = await payment_world.charge(payer.ref, above, "k-later", pin=PIN)
    assert later.status_code == 200, later.text
    statuses = {c.idempotency_key: c.status for c in (await payment_world.rows())[0]}
    assert statuses == {
        "k-pin": ChargeStatus.CAPTURED,
        "k-wrong": ChargeStatus.REFUSED,
        "k-after": ChargeStatus.REFUSED,
        "k-small": ChargeStatus.CAPTURED,
        "k-later": ChargeStatus.CAPTURED,
    }
    # Only captured charges reached the processor.
    assert len(payment_world.sandbox.payments()) == 3


async def test_withdrawn_payment_consent_stops_payment_but_not_entry(
    payment_world: PaymentWorld,
) -> None:
    payer = await payment_world.payer()
    assert (await payment_world.charge(payer.ref, 1000)).json()["status"] == "captured"
    withdrawn = await payment_world.portal("POST", "withdraw", {"purpose": "payment"})
    assert withdrawn.status_code == 200, withdrawn.text

    refused = await payment_world.charge(payer.ref, 1000)
    assert refused.status_code == 403
    assert (refused.json()["code"], refused.json()["reason"]) == (
        "payment-not-allowed",
        "no-payment-consent",
    )
    # The gate still admits him: his entry consent is untouched.
    gallery = await payment_world.client.get(
        "/api/v1/agent/gallery",
        params={"since": 0},
        headers={"authorization": f"Bearer {payment_world.gate_token}"},
    )
    (entry,) = gallery.json()["entries"]
    assert (entry["ref"], entry["purposes"]) == (payer.ref, ["entry"])
    # No payment consent left anywhere: the card and the PIN are gone with it.
    me = (await payment_world.portal("GET", "me")).json()
    assert all(m["removed_at"] for m in me["payments"]["methods"])
    assert me["payments"]["pin"]["set"] is False
    assert len((await payment_world.rows())[0]) == 1


async def test_a_pending_charge_is_refused_once_consent_is_withdrawn(
    payment_world: PaymentWorld,
) -> None:
    payer = await payment_world.payer()
    needed = await payment_world.charge(payer.ref, 5000, "k-pending")
    assert needed.status_code == 428
    await payment_world.portal("POST", "withdraw", {"purpose": "payment"})
    refused = await payment_world.charge(payer.ref, 5000, "k-pending", pin=PIN)
    assert refused.status_code == 403
    (charge,), _ = await payment_world.rows()
    assert (charge.status, charge.failure_code) == (ChargeStatus.REFUSED, "no-payment-consent")
    assert payment_world.sandbox.payments() == []


async def test_who_cannot_be_charged(payment_world: PaymentWorld) -> None:
    entry_only = await payment_world.payer(
        "kit_harington/kit_harington_1.jpg",
        email="kit@example.org",
        purposes=("entry",),
        pin=None,
        card=None,
    )
    # No payment consent: no card and no PIN are taken either.
    refused_pin = await payment_world.portal("POST", "pin", {"pin": PIN})
    assert (refused_pin.status_code, refused_pin.json()["reason"]) == (403, "no-payment-consent")
    token = payment_world.sandbox.tokenize()
    refused_card = await payment_world.portal("POST", "payment-method", {"token": token})
    assert refused_card.status_code == 403
    charged = await payment_world.charge(entry_only.ref, 1000)
    assert charged.status_code == 403
    assert charged.json()["reason"] == "no-payment-consent"

    no_card = await payment_world.payer(
        "rose_leslie/rose_leslie_1.jpg", email="rose@example.org", card=None
    )
    assert (await payment_world.charge(no_card.ref, 1000)).json()["reason"] == "no-payment-method"
    stranger = await payment_world.charge("v_" + "a" * 24, 1000)
    assert (stranger.status_code, stranger.json()["reason"]) == (403, "unknown-person")

    # A consent a change of purpose set aside does not pay until renewed.
    obama = await payment_world.payer(email="obama@example.org")
    await _db(
        payment_world,
        update(Consent)
        .where(Consent.subject_id == obama.subject_id, Consent.purpose == "payment")
        .values(renewal_required_at=utcnow()),
    )
    waiting = await payment_world.charge(obama.ref, 1000)
    assert (waiting.status_code, waiting.json()["reason"]) == (403, "renewal-required")
    wrong_currency = await payment_world.charge(obama.ref, 1000, currency="USD")
    assert wrong_currency.status_code == 400
    # Refusals write nothing: no charge rows about people who did not agree to pay.
    assert await payment_world.rows() == ([], [])
    assert payment_world.sandbox.payments() == []


async def test_deletion_keeps_the_books_without_the_person(payment_world: PaymentWorld) -> None:
    payer = await payment_world.payer()
    captured = await payment_world.charge(payer.ref, 2500, "k-book")
    assert captured.json()["status"] == "captured"
    declined_card = payment_world.sandbox.tokenize(CARD_DECLINED)
    await payment_world.portal("POST", "payment-method", {"token": declined_card})
    assert (await payment_world.charge(payer.ref, 700)).json()["status"] == "declined"
    _, ledger_before = await payment_world.rows()

    deleted = await payment_world.portal("POST", "delete")
    assert deleted.status_code == 200, deleted.text

    charges, ledger = await payment_world.rows()
    assert [(c.subject_id, c.amount_minor, c.item) for c in charges] == [
        (None, 2500, "Onsen towel"),
        (None, 700, "Onsen towel"),
    ]
    assert [(e.id, e.kind, e.amount_minor) for e in ledger] == [
        (e.id, e.kind, e.amount_minor) for e in ledger_before
    ]
    engine = create_engine(payment_world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            for model in (PaymentMethod, PaymentPin):
                count = await session.scalar(select(func.count()).select_from(model))
                assert count == 0, model
    finally:
        await engine.dispose()
    # The same till retry is still answered from the books; a new charge finds nobody.
    replay = await payment_world.charge(payer.ref, 2500, "k-book")
    assert replay.json() == captured.json()
    gone = await payment_world.charge(payer.ref, 2500)
    assert (gone.status_code, gone.json()["reason"]) == (403, "unknown-person")
