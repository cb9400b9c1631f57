"""The fake agent API with ``POST /agent/charges``, for the gate agent's payment-mode tests.

It follows the charges contract of ``enrollment_app/agent_api``: bearer gate token; body
``{ref, amount_minor, currency, item, idempotency_key, pin}``; 200 ``{charge_id, status
(captured|declined), amount_minor, currency, decline_code}``; RFC 9457 problems whose ``type``
ends in the code (428 pin-required, 422 wrong-pin with ``attempts_left``, 423 pin-locked, 403
payment-not-allowed, 409 charge-in-progress or idempotency-conflict, 503
payment-provider-unavailable). One charge per idempotency key: a retried key gets the first
answer, a reused key with another purchase a conflict. ``fail_next`` scripts answers (or
``"unreachable"`` for a dropped connection) ahead of the real ones.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx

from support.fake_agent_api import PREFIX, FakeAgentApi, Recorded

PROBLEM_BASE = "https://optin.example/problems/"

_STATUS_OF = {
    "pin-required": 428,
    "wrong-pin": 422,
    "pin-locked": 423,
    "payment-not-allowed": 403,
    "charge-in-progress": 409,
    "idempotency-conflict": 409,
    "payment-provider-unavailable": 503,
}


@dataclass
class Payer:
    pin: str | None = None
    has_method: bool = True
    failed: int = 0
    locked: bool = False


@dataclass
class FakeChargeApi(FakeAgentApi):
    currency: str = "JPY"
    pin_above_minor: int = 3000
    pin_max_attempts: int = 3
    #: Amounts the card issuer declines.
    decline_amounts: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.payers: dict[str, Payer] = {}
        self.charges: dict[str, dict[str, Any]] = {}  # idempotency key -> charge
        self.charge_requests: list[dict[str, Any]] = []  # every body, as received
        self.scripted: list[str] = []  # problem codes (or "unreachable") answered first
        self._ids = itertools.count(1)

    def config_json(self) -> dict[str, Any]:
        config = super().config_json()
        config["venue"]["currency"] = self.currency
        return config

    def add_payer(self, ref: str, *, pin: str | None = None, has_method: bool = True) -> None:
        self.payers[ref] = Payer(pin=pin, has_method=has_method)

    def fail_next(self, *codes: str) -> None:
        self.scripted.extend(codes)

    def keys(self) -> list[str]:
        return [body["idempotency_key"] for body in self.charge_requests]

    def handle(
        self, method: str, path: str, query: dict[str, str], authorization: str, body: Any
    ) -> tuple[int, dict[str, Any]]:
        if not (method == "POST" and path == f"{PREFIX}/charges"):
            return super().handle(method, path, query, authorization, body)
        self.requests.append(Recorded(method, path, query, body))
        if authorization != f"Bearer {self.token}" or self.revoked:
            return 401, {"type": "about:blank", "status": 401, "title": "Unauthorized"}
        self.charge_requests.append(body)
        if self.scripted:
            code = self.scripted.pop(0)
            if code == "unreachable":
                raise httpx.ConnectError("the fake server dropped the connection")
            return _problem(code)
        return self._charge(body)

    def _charge(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        key = body["idempotency_key"]
        purchase = {k: body[k] for k in ("ref", "amount_minor", "currency", "item")}
        charge = self.charges.get(key)
        if charge is None:
            charge = self.charges[key] = {**purchase, "id": f"ch_{next(self._ids)}", "state": ""}
        elif {k: charge[k] for k in purchase} != purchase:
            return _problem("idempotency-conflict")
        if charge["state"] in ("captured", "declined"):
            return 200, _answer(charge)
        ref = body["ref"]
        person = self.people.get(ref)
        payer = self.payers.get(ref)
        if person is None or "payment" not in person["purposes"] or payer is None:
            return _problem("payment-not-allowed", reason="no-payment-consent")
        if not payer.has_method:
            return _problem("payment-not-allowed", reason="no-payment-method")
        if payer.locked:
            return _problem("pin-locked")
        if body["amount_minor"] > self.pin_above_minor:
            if body.get("pin") is None:
                return _problem("pin-required")
            if body["pin"] != payer.pin:
                payer.failed += 1
                if payer.failed >= self.pin_max_attempts:
                    payer.locked = True
                    return _problem("pin-locked")
                return _problem("wrong-pin", attempts_left=self.pin_max_attempts - payer.failed)
            payer.failed = 0
        declined = body["amount_minor"] in self.decline_amounts
        charge["state"] = "declined" if declined else "captured"
        return 200, _answer(charge)

    def captured(self) -> list[dict[str, Any]]:
        return [c for c in self.charges.values() if c["state"] == "captured"]


def _answer(charge: dict[str, Any]) -> dict[str, Any]:
    declined = charge["state"] == "declined"
    return {
        "charge_id": charge["id"],
        "status": charge["state"],
        "amount_minor": charge["amount_minor"],
        "currency": charge["currency"],
        "decline_code": "card_declined" if declined else None,
    }


def _problem(code: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    status = _STATUS_OF[code]
    return status, {
        "type": PROBLEM_BASE + code,
        "title": code.replace("-", " ").capitalize(),
        "status": status,
        "detail": code.replace("-", " "),
        **extra,
    }
