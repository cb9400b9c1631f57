"""Real concurrency: the app served by `optin serve` in its own process, hit 20 times at once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx

from optin.db.enums import ChargeStatus, LedgerKind

from support.payment_world import PaymentWorld
from support.served_app import served

COPIES = 20


def _env(payment_world: PaymentWorld) -> dict[str, str]:
    return {
        **payment_world.world.env(),
        **payment_world.sandbox.env(),
        "OPTIN_PAYMENT_TIMEOUT_SECONDS": "10",
    }


async def _at_once(base: str, token: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        return await asyncio.gather(
            *(client.post("/api/v1/agent/charges", json=body, headers=headers) for body in bodies)
        )


async def test_one_key_sent_twenty_times_at_once_charges_once(
    payment_world: PaymentWorld,
) -> None:
    payer = await payment_world.payer()
    body = {
        "ref": payer.ref,
        "amount_minor": 1800,
        "currency": "JPY",
        "item": "Lunch set",
        "idempotency_key": "till-3:" + uuid.uuid4().hex,
        "pin": None,
    }
    # The processor takes a moment, so copies arrive while the first is still being paid.
    payment_world.sandbox.control(delay_seconds=0.5)
    with served(_env(payment_world)) as base:
        responses = await _at_once(base, payment_world.gate_token, [body] * COPIES)
        after = await _at_once(base, payment_world.gate_token, [body])

    answers = Counter(response.status_code for response in responses)
    assert set(answers) <= {200, 409}, [r.text for r in responses]
    captured = [r.json() for r in responses if r.status_code == 200]
    assert captured, "at least the request that held the charge answers 200"
    assert all(answer == captured[0] for answer in captured)
    assert captured[0]["status"] == "captured"
    assert all(r.json()["code"] == "charge-in-progress" for r in responses if r.status_code == 409)
    assert after[0].status_code == 200
    assert after[0].json() == captured[0]

    sandbox = payment_world.sandbox.ledger()
    assert len(sandbox["payments"]) == 1
    assert sandbox["payments_per_key"] == {captured[0]["charge_id"]: 1}
    (charge,), ledger = await payment_world.rows()
    assert charge.status == ChargeStatus.CAPTURED
    kinds = Counter(entry.kind for entry in ledger)
    assert kinds == {LedgerKind.AUTHORIZATION: 1, LedgerKind.CAPTURE: 1}


async def test_parallel_wrong_pins_never_exceed_the_attempt_budget(
    payment_world: PaymentWorld,
) -> None:
    payer = await payment_world.payer()
    bodies = [
        {
            "ref": payer.ref,
            "amount_minor": 9000,  # above the hotel's limit: the PIN is checked
            "currency": "JPY",
            "item": "Room upgrade",
            "idempotency_key": f"guess-{n}",
            "pin": f"{1357 + n:04d}",
        }
        for n in range(10)
    ]
    with served(_env(payment_world)) as base:
        responses = await _at_once(base, payment_world.gate_token, bodies)
        right = await _at_once(base, payment_world.gate_token, [{**bodies[0], "pin": "2468"}])

    codes = Counter(response.json()["code"] for response in responses)
    # Three attempts at most were checked: two "wrong", the third locked it; the rest were
    # refused without a look at the PIN.
    assert codes["wrong-pin"] == 2, codes
    assert codes["pin-locked"] == 8, codes
    assert right[0].status_code == 423
    assert payment_world.sandbox.payments() == []
