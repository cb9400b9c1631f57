"""Payment mode: a purchase rung up at the till is charged to the one customer recognised there.

A purchase (amount, item, and an idempotency key made once for it) waits up to ``wait_seconds``
for exactly one person enrolled for payment at this venue to be recognised at the till
(``gate_agent.presence``), then ``POST /agent/charges`` with that person's venue pseudonym. The
server answers with a capture or a decline, or asks for the customer's PIN (428, amounts above the
venue's limit): the same key is sent again with the PIN. While the outcome is unknown (payment
provider down, the charge in progress elsewhere, the server unreachable) the same request is
retried, a bounded number of times; a decline or a wrong PIN is an answer and is never retried
on its own.

The purchase is written down (``purchase.pending``, sealed under the gate key like the gallery
cache) just before its first charge request, and removed once the server gave a final answer, so
a gate that crashed or lost the network resumes it with the same key: nobody is charged twice.
The PIN lives in local variables for one request: never logged, never written.

Strangers: a purchase only ever goes to a person the pipeline identified, so a face that matches
nobody cannot start, change or be named in anything here. Logs name the purchase, the charge id,
the amount and the outcome; never the person.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final, Literal, Protocol, runtime_checkable

from gate_agent.client import AgentClient, ApiError, Unauthorized, Unreachable
from gate_agent.config import PaymentSettings
from gate_agent.metrics import Metrics
from gate_agent.presence import Presence
from gate_agent.state import GateState
from optin.crypto.files import read_private_file, replace_private_file
from optin.crypto.gate_wire import open_for_gate, seal_for_gate
from optin.errors import ConfigurationError, CryptoError

log = logging.getLogger(__name__)

DEFAULT_CURRENCY: Final = "JPY"
MAX_ITEM: Final = 200
MAX_KEY: Final = 128
DEFAULT_ITEM: Final = "Purchase"
#: A sanity bound on what a till may ring up, in minor units.
MAX_AMOUNT_MINOR: Final = 10**12
_PURCHASE_AAD: Final = "optin-gate-purchase/v1"

#: ISO 4217 currencies whose minor unit is not a hundredth (the rest have two decimals).
_EXPONENTS: Final = {
    **dict.fromkeys(
        ("JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", "XAF", "XOF", "XPF", "VUV", "RWF"), 0
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}

Outcome = Literal[
    "approved",  # captured
    "declined",  # by the card issuer or the provider
    "pin-required",  # the server wants the PIN and none was given (scripted use)
    "wrong-pin",
    "pin-locked",
    "not-allowed",  # no payment consent here, or nothing to charge (the server's 403)
    "no-customer",  # nobody enrolled for payment recognised in time
    "several-customers",  # more than one: the till cannot tell who is paying
    "gate-unavailable",  # the gate may not recognise anyone now (offline too long...)
    "pending",  # outcome unknown after the retries: kept, resume with the same key
    "refused",  # the server refused the request itself (conflict, invalid, revoked gate)
    "cancelled",  # by the operator; nothing was charged
]


# --- money ---------------------------------------------------------------------------------------


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


def parse_amount(text: str, currency: str) -> int:
    """``"1200"`` (JPY) -> 1200, ``"12.50"`` (EUR) -> 1250, in minor units; ValueError if not
    a positive amount with at most the currency's decimals. ``1,200`` is read as 1200."""
    cleaned = text.strip()
    if "," in cleaned:
        whole, _, fraction = cleaned.partition(".")
        groups = whole.split(",")
        if not (1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])):
            raise ValueError(f"{text!r} is not an amount (write 1200 or 1,200)")
        cleaned = "".join(groups) + (f".{fraction}" if fraction else "")
    if not cleaned or not all(c.isdigit() or c == "." for c in cleaned) or cleaned.count(".") > 1:
        raise ValueError(f"{text!r} is not an amount (write it like 1200)")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount (write it like 1200)") from None
    places = exponent(currency)
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        raise ValueError(
            f"{currency} has {places} decimal places: {text!r} cannot be charged"
            if places
            else f"{currency} has no decimal places: {text!r} cannot be charged"
        )
    if not 0 < minor < MAX_AMOUNT_MINOR:
        raise ValueError("the amount must be more than zero")
    return int(minor)


def format_amount(minor: int, currency: str) -> str:
    """1200 JPY -> ``1,200 JPY``; 1250 EUR -> ``12.50 EUR``."""
    places = exponent(currency)
    value = Decimal(minor).scaleb(-places)
    return f"{value:,.{places}f} {currency}"


def clean_item(text: str) -> str:
    """What was bought, as the till typed it: one line, at most 200 characters."""
    item = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(item) > MAX_ITEM:
        raise ValueError(f"the item is longer than {MAX_ITEM} characters")
    return item or DEFAULT_ITEM


# --- the purchase and where it waits -------------------------------------------------------------

#: ``sent``: a charge request went out and no final answer came back (it may have been charged:
#: only the same key may be sent again). ``awaiting-pin``: the server asked for the PIN, so
#: nothing was charged yet.
Stage = Literal["new", "sent", "awaiting-pin"]


@dataclass(frozen=True, slots=True)
class Purchase:
    amount_minor: int
    currency: str
    item: str
    #: The idempotency key: made once per purchase and sent with every try of it.
    key: str = ""
    #: The customer's venue pseudonym, once recognised (an enrolled person, never a stranger).
    ref: str | None = None
    stage: Stage = "new"
    created_at: float = 0.0

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", str(uuid.uuid4()))
        if not self.created_at:
            object.__setattr__(self, "created_at", time.time())
        if not 0 < len(self.key) <= MAX_KEY:
            raise ValueError(f"a purchase id has 1 to {MAX_KEY} characters")

    @property
    def amount(self) -> str:
        return format_amount(self.amount_minor, self.currency)

    def request(self, pin: str | None) -> dict[str, Any]:
        """The body of ``POST /agent/charges``."""
        assert self.ref is not None
        return {
            "ref": self.ref,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
            "item": self.item,
            "idempotency_key": self.key,
            "pin": pin,
        }


class PurchaseStore:
    """The one purchase without a final answer, sealed under the gate key (mode 0600)."""

    def __init__(self, path: Path, key: bytes) -> None:
        self._path = path
        self._key = key

    @property
    def path(self) -> Path:
        return self._path

    def load(self) -> Purchase | None:
        try:
            sealed = read_private_file(self._path, what="unfinished purchase")
        except FileNotFoundError:
            return None
        except ConfigurationError as exc:
            log.error("unfinished purchase ignored: %s", exc.detail)
            return None
        try:
            data = json.loads(open_for_gate(self._key, sealed.decode("ascii"), _PURCHASE_AAD))
            return Purchase(**{name: data[name] for name in _PURCHASE_FIELDS})
        except (CryptoError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            log.error("unfinished purchase ignored: it does not open with this gate's token")
            return None

    def save(self, purchase: Purchase) -> None:
        plain = json.dumps(asdict(purchase), separators=(",", ":")).encode("utf-8")
        replace_private_file(self._path, seal_for_gate(self._key, plain, _PURCHASE_AAD).encode())

    def delete(self) -> None:
        self._path.unlink(missing_ok=True)


_PURCHASE_FIELDS: Final = ("amount_minor", "currency", "item", "key", "ref", "stage", "created_at")


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """What the till shows at the end of a purchase. No person: the ref is never in here."""

    outcome: Outcome
    message: str
    purchase_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    item: str | None = None
    charge_id: str | None = None
    decline_code: str | None = None
    attempts_left: int | None = None

    @property
    def approved(self) -> bool:
        return self.outcome == "approved"

    @property
    def kept(self) -> bool:
        """The purchase stays on record for ``retry``/``--resume`` (same key)."""
        return self.outcome in ("pending", "pin-required", "wrong-pin")

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "approved": self.approved}


@runtime_checkable
class PaymentDisplay(Protocol):
    """An actuator that can show a payment result (``gate_agent.actuators``)."""

    def show_payment(self, result: PaymentResult) -> None: ...


class TillScreen(Protocol):
    """What the operator sees while a purchase is under way (``gate_agent.till``)."""

    def progress(self, event: str, text: str, **data: Any) -> None: ...


class PinPad(Protocol):
    """Where a PIN comes from. ``ask`` returns None when there is none (cancelled, or a
    scripted run whose one PIN was used); ``interactive`` pads can ask again after a wrong PIN."""

    interactive: bool

    def ask(self, prompt: str) -> str | None: ...


class NoPin:
    interactive = False

    def ask(self, prompt: str) -> str | None:
        return None


# --- talking to the server -----------------------------------------------------------------------

ReplyKind = Literal[
    "captured",
    "declined",
    "pin-required",
    "wrong-pin",
    "pin-locked",
    "not-allowed",
    "unknown",
    "refused",
]


@dataclass(frozen=True, slots=True)
class Reply:
    """The server's answer to one charge (after the retries), classified."""

    kind: ReplyKind
    detail: str = ""
    charge_id: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    decline_code: str | None = None
    attempts_left: int | None = None


#: Statuses after which the outcome is unknown and the same request may be sent again.
_RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})

OnRetry = Callable[[str, int, int, float], None]  # reason, attempt, attempts, delay


class Charger:
    """Sends one charge and classifies the answer, retrying while its outcome is unknown."""

    def __init__(
        self,
        client: AgentClient,
        settings: PaymentSettings,
        stop: threading.Event,
        *,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._client = client
        self._settings = settings
        self._stop = stop
        self._jitter = jitter

    def send(self, body: Mapping[str, Any], on_retry: OnRetry) -> Reply:
        """Every try sends ``body`` unchanged: the same idempotency key (and PIN, if any)."""
        attempts = self._settings.attempts
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            try:
                answer = self._client.post_charge(body)
            except Unreachable:
                reason = "the optin server cannot be reached"
            except ApiError as exc:
                if not _retryable(exc):
                    return _classify_error(exc)
                reason = _retry_reason(exc)
                retry_after = exc.retry_after
            else:
                return _classify_answer(answer)
            if attempt == attempts or self._stop.is_set():
                return Reply("unknown", reason)
            delay = self._delay(attempt, retry_after)
            on_retry(reason, attempt, attempts, delay)
            if self._stop.wait(delay):
                return Reply("unknown", reason)
        raise AssertionError("unreachable")  # pragma: no cover

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        cap = self._settings.retry_cap
        if retry_after is not None:
            return min(retry_after, cap)
        # Exponential with half of it jittered: gates that lost the provider together do not
        # all come back in the same instant.
        ceiling = min(cap, self._settings.retry_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + self._jitter(0.0, ceiling / 2)


def _retryable(exc: ApiError) -> bool:
    if isinstance(exc, Unauthorized):
        return False
    if exc.status == 409:
        return exc.code == "charge-in-progress"
    return exc.status in _RETRY_STATUSES


def _retry_reason(exc: ApiError) -> str:
    if exc.code == "payment-provider-unavailable":
        return "the payment provider is unavailable"
    if exc.code == "charge-in-progress":
        return "the charge is still in progress"
    return f"the optin server answered {exc.status}"


def _classify_answer(answer: Any) -> Reply:
    if not isinstance(answer, dict):
        return Reply("unknown", "the server's answer was not understood")
    status = answer.get("status")
    charge_id = str(answer["charge_id"]) if answer.get("charge_id") is not None else None
    amount = answer.get("amount_minor")
    fields: dict[str, Any] = {
        "charge_id": charge_id,
        "amount_minor": int(amount) if isinstance(amount, int) else None,
        "currency": str(answer["currency"]) if answer.get("currency") else None,
    }
    if status == "captured":
        return Reply("captured", **fields)
    if status == "declined":
        code = answer.get("decline_code")
        return Reply("declined", decline_code=str(code) if code else None, **fields)
    # Anything else (a status this agent does not know) is not a final answer.
    return Reply("unknown", f"the server answered with status {status!r}", **fields)


def _classify_error(exc: ApiError) -> Reply:
    # ``note`` is the server's specific cause in English; ``detail`` is meant for the person.
    note = exc.extra.get("note")
    code, detail = exc.code, (note if isinstance(note, str) and note else exc.detail or exc.title)
    if code == "pin-required" or (code is None and exc.status == 428):
        return Reply("pin-required", detail)
    if code == "wrong-pin":
        left = exc.extra.get("attempts_left")
        return Reply("wrong-pin", detail, attempts_left=left if isinstance(left, int) else None)
    if code == "pin-locked" or (code is None and exc.status == 423):
        return Reply("pin-locked", detail)
    if code == "payment-not-allowed":
        reason = exc.extra.get("reason")
        return Reply("not-allowed", _NOT_ALLOWED.get(str(reason), detail))
    if isinstance(exc, Unauthorized):
        return Reply("refused", "the server no longer recognises this gate (token revoked?)")
    if code == "idempotency-conflict":
        return Reply("refused", "this purchase id was already used for a different purchase")
    if exc.extra.get("reason") == "currency-mismatch":
        return Reply("refused", f"{detail}: set the till's currency with --currency")
    return Reply("refused", f"{exc.status} {detail}")


# --- a purchase from start to end ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Customer:
    """Who a waiting purchase found: a ref, or why it found nobody it may charge."""

    ref: str | None
    outcome: Outcome | None = None
    reason: str = ""


class Checkout:
    """Runs purchases: finds the customer, charges, asks for the PIN, shows the result."""

    def __init__(
        self,
        *,
        charger: Charger,
        store: PurchaseStore,
        state: GateState,
        presence: Presence,
        settings: PaymentSettings,
        metrics: Metrics,
        display: object,
        stop: threading.Event,
    ) -> None:
        self.store = store
        self.settings = settings
        self._charger = charger
        self._state = state
        self._presence = presence
        self._metrics = metrics
        self._display = display
        self._stop = stop

    @property
    def currency(self) -> str:
        """The configured currency, else the venue's as the server says, else JPY."""
        if self.settings.currency:
            return self.settings.currency
        config = self._state.config
        return (config.currency if config else None) or DEFAULT_CURRENCY

    def status(self) -> str:
        return self._state.status()

    def new_purchase(self, amount: str, item: str, purchase_id: str | None = None) -> Purchase:
        """ValueError when the till typed something that cannot be charged."""
        currency = self.currency
        return Purchase(
            amount_minor=parse_amount(amount, currency),
            currency=currency,
            item=clean_item(item),
            key=purchase_id or "",
        )

    def find_customer(self, wait: float, cancelled: Callable[[], bool] = lambda: False) -> Customer:
        """The one person enrolled for payment recognised at the till within ``wait`` seconds.

        Recognised means identified by the pipeline in the last ``presence_seconds``. Two or
        more at once: nobody is charged until only one is left. Someone recognised without
        payment consent here is never sent to the server: that would use their data for a
        purpose they did not agree to.
        """
        started = time.monotonic()
        deadline = started + wait
        several = refused = False
        unavailable = ""
        while True:
            view = self._state.view()
            if isinstance(view, str):
                unavailable = view
            else:
                unavailable = ""
                entries = view.gallery.entries
                present = self._presence.recent(self.settings.presence_seconds)
                payers = [r for r in present if r in entries and "payment" in entries[r].purposes]
                if len(payers) == 1:
                    return Customer(payers[0])
                several = several or len(payers) > 1
                refused_now = not payers and any(r in entries for r in present)
                refused = refused or refused_now
                if refused_now and time.monotonic() - started >= self.settings.not_allowed_after:
                    break
            if cancelled() or self._stop.is_set():
                return Customer(None, "cancelled", "nothing charged")
            if time.monotonic() >= deadline or self._presence.closed:
                break
            self._presence.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        if unavailable:
            return Customer(None, "gate-unavailable", unavailable)
        if several:
            return Customer(None, "several-customers")
        if refused:
            return Customer(None, "not-allowed", "no payment consent at this venue")
        return Customer(None, "no-customer")

    def charge(
        self,
        purchase: Purchase,
        pin_pad: PinPad,
        screen: TillScreen,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> PaymentResult:
        """Wait for the customer (unless the purchase already has one), then complete it."""
        if purchase.ref is None:
            screen.progress(
                "waiting",
                f"{purchase.amount} for {purchase.item}: waiting up to "
                f"{self.settings.wait_seconds:g} s for a customer enrolled for face payment",
                purchase_id=purchase.key,
            )
            customer = self.find_customer(self.settings.wait_seconds, cancelled)
            if customer.ref is None:
                assert customer.outcome is not None
                return self.finish(purchase, customer.outcome, detail=customer.reason)
            purchase = replace(purchase, ref=customer.ref)
            screen.progress("recognised", "customer recognised: charging " + purchase.amount)
        return self.complete(purchase, pin_pad, screen)

    def complete(self, purchase: Purchase, pin_pad: PinPad, screen: TillScreen) -> PaymentResult:
        """Charge a purchase whose customer is known, asking for the PIN when the server does.

        Resuming a stored purchase comes straight here: same key, same customer.
        """
        key = purchase.key

        def on_retry(reason: str, attempt: int, attempts: int, delay: float) -> None:
            log.warning(
                "purchase %s: %s; retry %d of %d in %.1f s (same purchase, never charged twice)",
                key,
                reason,
                attempt + 1,
                attempts,
                delay,
            )
            screen.progress(
                "retrying",
                f"{reason}: trying again in {delay:.1f} s (try {attempt + 1} of {attempts})",
                attempt=attempt + 1,
                attempts=attempts,
            )

        pin: str | None = None
        while True:
            purchase = replace(purchase, stage="sent")
            # Written before the request leaves: a crash from here on resumes with this key.
            self.store.save(purchase)
            reply = self._charger.send(purchase.request(pin), on_retry)
            pin = None  # one request only: a wrong PIN is never sent again on its own
            if reply.kind in ("pin-required", "wrong-pin"):
                purchase = replace(purchase, stage="awaiting-pin")
                self.store.save(purchase)  # nothing was charged: a new purchase may replace it
                if reply.kind == "wrong-pin":
                    screen.progress(
                        "wrong-pin",
                        _pin_wrong_text(reply.attempts_left),
                        attempts_left=reply.attempts_left,
                    )
                prompt = (
                    f"PIN required for {purchase.amount}: the customer enters their PIN "
                    "(empty line cancels)"
                    if reply.kind == "pin-required"
                    else "PIN again (empty line cancels)"
                )
                if reply.kind == "pin-required" or pin_pad.interactive:
                    pin = pin_pad.ask(prompt)
                if pin:
                    continue
                if pin_pad.interactive:
                    return self.finish(purchase, "cancelled", detail="nothing charged")
                outcome: Outcome = "pin-required" if reply.kind == "pin-required" else "wrong-pin"
                return self.finish(purchase, outcome, reply=reply)
            return self.finish(purchase, _OUTCOMES[reply.kind], reply=reply)

    def finish(
        self,
        purchase: Purchase,
        outcome: Outcome,
        *,
        reply: Reply | None = None,
        detail: str = "",
    ) -> PaymentResult:
        """Record, log and show the end of a purchase; forget it unless it must be resumed."""
        reply = reply or Reply("refused")
        result = PaymentResult(
            outcome=outcome,
            message=_message(outcome, purchase, reply, detail or reply.detail),
            purchase_id=purchase.key,
            amount_minor=reply.amount_minor or purchase.amount_minor,
            currency=reply.currency or purchase.currency,
            item=purchase.item,
            charge_id=reply.charge_id,
            decline_code=reply.decline_code,
            attempts_left=reply.attempts_left,
        )
        if not result.kept:
            self.store.delete()
        self._metrics.add(f"payment_{outcome.replace('-', '_')}")
        level = logging.INFO if result.approved or outcome == "cancelled" else logging.WARNING
        log.log(
            level,
            "purchase %s: %s, %s%s",
            purchase.key,
            outcome,
            purchase.amount,
            f", charge {result.charge_id}" if result.charge_id else "",
        )
        if isinstance(self._display, PaymentDisplay):
            try:
                self._display.show_payment(result)
            except Exception as exc:  # noqa: BLE001 - the till must still show the result
                log.error("the display did not take the payment result: %s", type(exc).__name__)
        return result


#: The server's reasons for a 403, as the till operator should read them.
_NOT_ALLOWED: Final = {
    "no-payment-consent": "no payment consent at this venue",
    "renewal-required": "the payment consent must be renewed in the portal first",
    "no-payment-method": "no card on file",
    "no-pin": "this amount needs a PIN and none is set",
    "unknown-person": "not enrolled for payment here",
}

_OUTCOMES: Final[dict[ReplyKind, Outcome]] = {
    "captured": "approved",
    "declined": "declined",
    "pin-required": "pin-required",
    "wrong-pin": "wrong-pin",
    "pin-locked": "pin-locked",
    "not-allowed": "not-allowed",
    "unknown": "pending",
    "refused": "refused",
}


def _pin_wrong_text(attempts_left: int | None) -> str:
    if attempts_left is None:
        return "PIN WRONG"
    return f"PIN WRONG: {attempts_left} attempt{'s' if attempts_left != 1 else ''} left"


def _message(outcome: Outcome, purchase: Purchase, reply: Reply, detail: str) -> str:
    """One line for the till operator: what happened and what to do next."""
    amount = purchase.amount
    match outcome:
        case "approved":
            return f"APPROVED: {amount} for {purchase.item} (charge {reply.charge_id})"
        case "declined":
            code = f" ({reply.decline_code})" if reply.decline_code else ""
            return f"DECLINED{code}: {amount} not charged; ask for another way to pay"
        case "pin-required":
            return f"PIN REQUIRED for {amount}: run again with --resume and the customer's PIN"
        case "wrong-pin":
            return f"{_pin_wrong_text(reply.attempts_left)}: {amount} not charged"
        case "pin-locked":
            return (
                f"PIN LOCKED after too many wrong PINs: {amount} not charged; face payment is "
                "blocked for this customer for now, ask for another way to pay"
            )
        case "not-allowed":
            return (
                f"NOT ALLOWED: this customer cannot pay by face here ({detail or 'refused'}); "
                f"{amount} not charged, ask for another way to pay"
            )
        case "no-customer":
            return (
                f"NO CUSTOMER: nobody enrolled for face payment was recognised at the till; "
                f"{amount} not charged"
            )
        case "several-customers":
            return (
                "SEVERAL CUSTOMERS enrolled for face payment are in view: ask the others to "
                f"step back and ring it up again; {amount} not charged"
            )
        case "gate-unavailable":
            return f"FACE PAYMENT UNAVAILABLE ({detail}): {amount} not charged"
        case "pending":
            return (
                f"NOT CONFIRMED ({detail}): {amount} may or may not be charged; the purchase is "
                "kept: finish it later with retry (or --resume), never charged twice, or "
                "cancel it"
            )
        case "refused":
            return f"REFUSED by the server ({detail}): {amount} not charged"
        case "cancelled":
            return f"CANCELLED: {amount} not charged"
    raise AssertionError(outcome)  # pragma: no cover
