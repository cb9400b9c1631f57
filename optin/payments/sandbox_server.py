"""The built-in sandbox card processor: a small real HTTP service for the demo and the tests.

It imitates what the product needs from a processor, in memory, in one process:

- ``POST /v1/tokens`` turns card details into a token. The person's *browser* calls it from our
  portal page, so it answers CORS (any origin: the sandbox holds no real data). The card number
  is checked (Luhn, expiry) and then forgotten: only brand, last four digits and the test
  outcome are kept. Nothing here logs card numbers or tokens.
- ``GET /v1/tokens/{token}`` describes a token, so our server can check one it was given.
- ``POST /v1/payments`` authorises, ``/v1/payments/{id}/capture`` captures and
  ``/v1/payments/{id}/refunds`` refunds; each needs an ``Idempotency-Key`` header. A repeated key
  returns the first answer; a duplicate arriving while the first is still being processed waits
  for it instead of charging again.
- ``POST /v1/_control`` injects faults (a processing delay, 500s on the next money calls, a
  reset) and ``GET /v1/_ledger`` shows everything the sandbox did, so a test can assert that a
  person was charged exactly once.

Magic cards (any other valid number is approved): see ``TEST_CARDS``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.config.cors import CORSConfig
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_200_OK
from litestar.types import ExceptionHandlersMap

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_INSUFFICIENT_FUNDS = "4000000000009995"

# Number -> decline code; numbers not listed are approved.
TEST_CARDS: dict[str, str | None] = {
    CARD_OK: None,
    CARD_DECLINED: "card_declined",
    CARD_INSUFFICIENT_FUNDS: "insufficient_funds",
}

MAX_DELAY_SECONDS = 60.0
MAX_AMOUNT_MINOR = 10**12
IDEMPOTENCY_HEADER = "Idempotency-Key"

Operation = Literal["authorize", "capture", "refund"]


class SandboxError(Exception):
    """An answer in the processor's error shape: ``{"error": {"code", "message", "param"}}``."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param


class CardInvalid(SandboxError):
    def __init__(self, code: str, message: str, param: str) -> None:
        super().__init__(400, code, message, param)


# -- card checks (pure functions, unit-tested) ---------------------------------------------------


def luhn_valid(number: str) -> bool:
    """The Luhn check digit every card number carries (catches most typing mistakes)."""
    if not number.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def normalise_number(raw: object) -> str:
    """The digits of a card number as typed (spaces and dashes allowed), or ``CardInvalid``."""
    if not isinstance(raw, str) or not raw.strip():
        raise CardInvalid("invalid_number", "The card number is missing.", "number")
    digits = raw.replace(" ", "").replace("-", "")
    if not digits.isdigit():
        raise CardInvalid("invalid_number", "The card number may contain only digits.", "number")
    if not 12 <= len(digits) <= 19:
        raise CardInvalid(
            "invalid_number", "The card number must have between 12 and 19 digits.", "number"
        )
    if not luhn_valid(digits):
        raise CardInvalid(
            "invalid_number",
            "The card number is not valid: check it for a typing mistake.",
            "number",
        )
    return digits


def _small_int(raw: object, param: str, what: str) -> int:
    # Browsers send form values as strings; accept "07" as well as 7, never a bool or a float.
    if isinstance(raw, bool):
        raise CardInvalid(f"invalid_{param}", f"The {what} must be a number.", param)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) <= 4:
        return int(raw.strip())
    raise CardInvalid(f"invalid_{param}", f"The {what} must be a number.", param)


def check_expiry(exp_month: object, exp_year: object, today: date) -> tuple[int, int]:
    """``(month, four-digit year)``; a card is valid through the last day of its month."""
    month = _small_int(exp_month, "exp_month", "expiry month")
    year = _small_int(exp_year, "exp_year", "expiry year")
    if not 1 <= month <= 12:
        raise CardInvalid(
            "invalid_exp_month", "The expiry month must be between 1 and 12.", "exp_month"
        )
    if year < 100:  # "27" as printed on the card
        year += 2000
    if (year, month) < (today.year, today.month):
        raise CardInvalid("expired_card", "The card has expired.", "exp_year")
    if year > today.year + 20:
        raise CardInvalid(
            "invalid_exp_year", "The expiry year is too far in the future.", "exp_year"
        )
    return month, year


def check_cvc(raw: object) -> None:
    value = raw if isinstance(raw, str) else None
    if value is None or not value.isdigit() or not 3 <= len(value) <= 4:
        raise CardInvalid("invalid_cvc", "The security code must be 3 or 4 digits.", "cvc")


def card_brand(number: str) -> str:
    """The scheme from the number's prefix (enough for a label such as "VISA 4242")."""
    two, four = int(number[:2]), int(number[:4])
    if number.startswith("4"):
        return "visa"
    if 51 <= two <= 55 or 2221 <= four <= 2720:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if 3528 <= four <= 3589:
        return "jcb"
    if number.startswith(("6011", "65")) or 644 <= int(number[:3]) <= 649:
        return "discover"
    if two in (36, 38, 39) or 300 <= int(number[:3]) <= 305:
        return "diners"
    if number.startswith("62"):
        return "unionpay"
    return "unknown"


# -- state ---------------------------------------------------------------------------------------


@dataclass
class Card:
    """What a token stands for. The number itself is not kept."""

    brand: str
    last4: str
    decline_code: str | None


@dataclass
class Refund:
    id: str
    amount_minor: int
    idempotency_key: str


@dataclass
class Payment:
    id: str
    idempotency_key: str
    brand: str
    last4: str
    amount_minor: int
    currency: str
    description: str
    status: Literal["authorized", "declined", "captured", "refunded"]
    decline_code: str | None
    captured_minor: int = 0
    refunds: list[Refund] = field(default_factory=list)

    @property
    def refunded_minor(self) -> int:
        return sum(refund.amount_minor for refund in self.refunds)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "description": self.description,
            "decline_code": self.decline_code,
            "captured_minor": self.captured_minor,
            "refunded_minor": self.refunded_minor,
            "card": {"brand": self.brand, "last4": self.last4},
        }


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


@dataclass
class IdempotentCall:
    fingerprint: str
    # A task, not a coroutine awaited by the request: it runs to the end even when the caller
    # times out and goes away, which is exactly the case the product must survive.
    task: asyncio.Task[Answer]


@dataclass
class State:
    tokens: dict[str, Card] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    calls: dict[tuple[str, str], IdempotentCall] = field(default_factory=dict)
    journal: list[dict[str, Any]] = field(default_factory=list)
    delay_seconds: float = 0.0
    fail_next: int = 0


class Sandbox:
    """Holds the state; ``reset`` swaps in a fresh one, so work still in flight from before a
    reset lands in the old state and cannot leak into the next test."""

    def __init__(self) -> None:
        self.state = State()

    def reset(self) -> None:
        self.state = State()

    async def idempotent(
        self,
        operation: Operation,
        scope: str,
        key: str,
        request_body: dict[str, Any],
        work: Callable[[State], Answer],
    ) -> Answer:
        state = self.state
        if state.fail_next > 0:
            # Nothing happens and nothing is remembered: a retry with the same key succeeds.
            state.fail_next -= 1
            state.journal.append(
                {"operation": operation, "idempotency_key": key, "outcome": "injected_failure"}
            )
            raise SandboxError(500, "injected_failure", "Injected failure (sandbox control).")
        fingerprint = hashlib.sha256(
            json.dumps([scope, request_body], sort_keys=True).encode()
        ).hexdigest()
        call = state.calls.get((scope, key))
        if call is None:
            # Journalled on arrival (in order), its outcome filled in when decided.
            entry = {"operation": operation, "idempotency_key": key, "outcome": "processing"}
            state.journal.append(entry)
            # No await between the lookup and this insert: concurrent duplicates all find it.
            task = asyncio.create_task(self._process(state, entry, work))
            call = state.calls[(scope, key)] = IdempotentCall(fingerprint, task)
        else:
            if call.fingerprint != fingerprint:
                raise SandboxError(
                    422,
                    "idempotency_key_reused",
                    "This Idempotency-Key was already used with different parameters.",
                )
            state.journal.append(
                {"operation": operation, "idempotency_key": key, "outcome": "replayed"}
            )
        return await asyncio.shield(call.task)

    @staticmethod
    async def _process(
        state: State, entry: dict[str, Any], work: Callable[[State], Answer]
    ) -> Answer:
        # The card network is slow: the decision (and the money) comes after the delay, even
        # if the caller has stopped waiting.
        if state.delay_seconds > 0:
            await asyncio.sleep(state.delay_seconds)
        try:
            answer = work(state)
        except SandboxError as exc:
            answer = Answer(exc.status, _error_body(exc))
        entry["outcome"] = "processed" if answer.status == HTTP_200_OK else "refused"
        if answer.status == HTTP_200_OK:
            entry["payment_id"] = answer.body.get("payment_id", answer.body.get("id"))
        return answer

    def ledger(self) -> dict[str, Any]:
        state = self.state
        payments = []
        for payment in state.payments.values():
            item = payment.as_json()
            item["idempotency_key"] = payment.idempotency_key
            item["refunds"] = [
                {"id": r.id, "amount_minor": r.amount_minor, "idempotency_key": r.idempotency_key}
                for r in payment.refunds
            ]
            payments.append(item)
        return {
            "payments": payments,
            "payments_per_key": dict(Counter(p.idempotency_key for p in state.payments.values())),
            "tokens": len(state.tokens),
            "calls": list(state.journal),
            "control": self.control_state(),
        }

    def control_state(self) -> dict[str, Any]:
        return {"delay_seconds": self.state.delay_seconds, "fail_next": self.state.fail_next}


# -- the money operations (synchronous: each runs without interruption once decided) -----------


def _authorize(body: dict[str, Any], key: str) -> Callable[[State], Answer]:
    token = _string(body, "token", required=True)
    amount = _amount(body.get("amount_minor"))
    currency = _string(body, "currency", required=True)
    if len(currency) != 3 or not currency.isalpha():
        raise SandboxError(400, "invalid_currency", "currency must be a 3-letter ISO 4217 code.")
    description = _string(body, "description", required=False)[:500]

    def work(state: State) -> Answer:
        card = state.tokens.get(token)
        if card is None:
            raise SandboxError(404, "no_such_token", "No such card token.", "token")
        payment = Payment(
            id=f"pay_{secrets.token_hex(12)}",
            idempotency_key=key,
            brand=card.brand,
            last4=card.last4,
            amount_minor=amount,
            currency=currency.upper(),
            description=description,
            status="declined" if card.decline_code else "authorized",
            decline_code=card.decline_code,
        )
        state.payments[payment.id] = payment
        return Answer(HTTP_200_OK, payment.as_json())

    return work


def _capture(payment_id: str) -> Callable[[State], Answer]:
    def work(state: State) -> Answer:
        payment = _payment(state, payment_id)
        if payment.status != "authorized":
            raise SandboxError(
                409,
                "payment_not_capturable",
                f"Only an authorized payment can be captured; this one is {payment.status}.",
            )
        payment.status = "captured"
        payment.captured_minor = payment.amount_minor
        return Answer(HTTP_200_OK, payment.as_json())

    return work


def _refund(payment_id: str, body: dict[str, Any], key: str) -> Callable[[State], Answer]:
    amount = _amount(body.get("amount_minor"))

    def work(state: State) -> Answer:
        payment = _payment(state, payment_id)
        if payment.status not in ("captured", "refunded"):
            raise SandboxError(
                409,
                "payment_not_refundable",
                f"Only a captured payment can be refunded; this one is {payment.status}.",
            )
        left = payment.captured_minor - payment.refunded_minor
        if amount > left:
            raise SandboxError(
                409,
                "refund_exceeds_captured",
                f"Cannot refund {amount}: only {left} of {payment.captured_minor} captured "
                "is left to refund.",
                "amount_minor",
            )
        refund = Refund(f"re_{secrets.token_hex(12)}", amount, key)
        payment.refunds.append(refund)
        if payment.refunded_minor == payment.captured_minor:
            payment.status = "refunded"
        return Answer(
            HTTP_200_OK,
            {
                "id": refund.id,
                "payment_id": payment.id,
                "amount_minor": amount,
                "currency": payment.currency,
                "status": "succeeded",
                "payment": payment.as_json(),
            },
        )

    return work


def _payment(state: State, payment_id: str) -> Payment:
    payment = state.payments.get(payment_id)
    if payment is None:
        raise SandboxError(404, "no_such_payment", "No such payment.")
    return payment


def _string(body: dict[str, Any], name: str, *, required: bool) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise SandboxError(400, f"invalid_{name}", f"{name} must be a non-empty string.", name)
    return value


def _amount(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 < raw <= MAX_AMOUNT_MINOR:
        raise SandboxError(
            400,
            "invalid_amount",
            "amount_minor must be a positive whole number of minor units.",
            "amount_minor",
        )
    return raw


async def _json_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise SandboxError(400, "invalid_json", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise SandboxError(400, "invalid_json", "The request body must be a JSON object.")
    return body


def _idempotency_key(request: Request[Any, Any, Any]) -> str:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key or len(key) > 255:
        raise SandboxError(
            400,
            "idempotency_key_required",
            f"Money calls need an {IDEMPOTENCY_HEADER} header (1 to 255 characters).",
        )
    return key


def _error_body(exc: SandboxError) -> dict[str, Any]:
    return {"error": {"code": exc.code, "message": exc.message, "param": exc.param}}


def _answer(answer: Answer) -> Response[dict[str, Any]]:
    return Response(answer.body, status_code=answer.status, media_type=MediaType.JSON)


# -- the app -------------------------------------------------------------------------------------


def create_sandbox_app(sandbox: Sandbox | None = None) -> Litestar:
    sandbox = sandbox or Sandbox()

    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "optin payment sandbox"}

    @post("/v1/tokens", status_code=HTTP_200_OK)
    async def create_token(request: Request[Any, Any, Any]) -> dict[str, str]:
        body = await _json_object(request)
        number = normalise_number(body.get("number"))
        check_expiry(body.get("exp_month"), body.get("exp_year"), datetime.now(UTC).date())
        check_cvc(body.get("cvc"))
        # Only brand, last four digits and the test outcome outlive this request.
        card = Card(card_brand(number), number[-4:], TEST_CARDS.get(number))
        token = f"tok_{secrets.token_urlsafe(18)}"
        sandbox.state.tokens[token] = card
        return {"token": token, "brand": card.brand, "last4": card.last4}

    @get("/v1/tokens/{token:str}", sync_to_thread=False)
    def describe_token(token: str) -> dict[str, str]:
        card = sandbox.state.tokens.get(token)
        if card is None:
            raise SandboxError(404, "no_such_token", "No such card token.", "token")
        return {"token": token, "brand": card.brand, "last4": card.last4}

    @post("/v1/payments", status_code=HTTP_200_OK)
    async def authorize(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        key = _idempotency_key(request)
        body = await _json_object(request)
        work = _authorize(body, key)
        return _answer(await sandbox.idempotent("authorize", "payments", key, body, work))

    @post("/v1/payments/{payment_id:str}/capture", status_code=HTTP_200_OK)
    async def capture(request: Request[Any, Any, Any], payment_id: str) -> Response[dict[str, Any]]:
        key = _idempotency_key(request)
        body = await _json_object(request)
        scope = f"capture:{payment_id}"
        return _answer(await sandbox.idempotent("capture", scope, key, body, _capture(payment_id)))

    @post("/v1/payments/{payment_id:str}/refunds", status_code=HTTP_200_OK)
    async def refund(request: Request[Any, Any, Any], payment_id: str) -> Response[dict[str, Any]]:
        key = _idempotency_key(request)
        body = await _json_object(request)
        work = _refund(payment_id, body, key)
        scope = f"refund:{payment_id}"
        return _answer(await sandbox.idempotent("refund", scope, key, body, work))

    @post("/v1/_control", status_code=HTTP_200_OK)
    async def control(request: Request[Any, Any, Any]) -> dict[str, Any]:
        body = await _json_object(request)
        unknown = set(body) - {"delay_seconds", "fail_next", "reset"}
        if unknown:
            raise SandboxError(400, "invalid_control", f"Unknown fields: {sorted(unknown)}.")
        if body.get("reset"):
            sandbox.reset()
        if "delay_seconds" in body:
            delay = body["delay_seconds"]
            if (
                isinstance(delay, bool)
                or not isinstance(delay, int | float)
                or not 0 <= delay <= MAX_DELAY_SECONDS
            ):
                raise SandboxError(
                    400, "invalid_control", f"delay_seconds must be 0 to {MAX_DELAY_SECONDS}."
                )
            sandbox.state.delay_seconds = float(delay)
        if "fail_next" in body:
            fail_next = body["fail_next"]
            if isinstance(fail_next, bool) or not isinstance(fail_next, int) or fail_next < 0:
                raise SandboxError(400, "invalid_control", "fail_next must be a whole number ≥ 0.")
            sandbox.state.fail_next = fail_next
        return sandbox.control_state()

    @get("/v1/_ledger", sync_to_thread=False)
    def ledger() -> dict[str, Any]:
        return sandbox.ledger()

    def sandbox_error(_: Request[Any, Any, Any], exc: SandboxError) -> Response[dict[str, Any]]:
        return Response(_error_body(exc), status_code=exc.status, media_type=MediaType.JSON)

    def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
        # Litestar's own refusals (unknown path, wrong method) in the same error shape.
        error = SandboxError(exc.status_code, "invalid_request", str(exc.detail))
        return sandbox_error(_, error)

    handlers: ExceptionHandlersMap = {
        SandboxError: sandbox_error,
        HTTPException: http_error,
    }
    return Litestar(
        route_handlers=[
            healthz,
            create_token,
            describe_token,
            authorize,
            capture,
            refund,
            control,
            ledger,
        ],
        # The person's browser posts card details here from our portal page, on another origin.
        cors_config=CORSConfig(
            allow_origins=["*"],
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", IDEMPOTENCY_HEADER],
            max_age=600,
        ),
        exception_handlers=handlers,
        openapi_config=None,
        # Card details and tokens travel in bodies and paths: never echo them into logs.
        logging_config=None,
        debug=False,
    )
