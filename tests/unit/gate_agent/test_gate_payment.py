"""Payment mode without a camera: money, the till's commands, retries, the PIN, resuming.

The customer at the till is put in ``Presence`` by hand (the pipeline does it in the real agent)
and the server is the fake charges API, in-process: every charge request it got is recorded, so
the tests can check that each retry of a purchase carried the same idempotency key.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from gate_helpers import unit_vector

from gate_agent.actuators import HttpRelayActuator, LogActuator
from gate_agent.client import AgentClient, ApiError
from gate_agent.config import PaymentSettings
from gate_agent.gallery import GalleryState, GateConfig
from gate_agent.metrics import Metrics
from gate_agent.payment import (
    Charger,
    Checkout,
    PaymentResult,
    Purchase,
    PurchaseStore,
    _classify_error,
    clean_item,
    format_amount,
    parse_amount,
)
from gate_agent.presence import Presence
from gate_agent.state import GateState
from gate_agent.till import (
    Command,
    FilePinPad,
    InteractiveTill,
    ScriptedCharge,
    TillInputError,
    parse_command,
    read_pin,
)
from optin.crypto.gate_wire import open_for_gate

from support.fake_charges import FakeChargeApi

PAYER, ENTRY_ONLY, OTHER_PAYER = "v_payer", "v_entry_only", "v_other"
PIN = "4321"


# --- money and commands ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("1200", "JPY", 1200),
        ("1,200", "JPY", 1200),
        ("12,345,678", "JPY", 12345678),
        ("12.50", "EUR", 1250),
        ("12", "EUR", 1200),
        ("0.5", "EUR", 50),
        ("1.234", "KWD", 1234),
    ],
)
def test_amounts_are_read_in_the_currency_s_minor_units(
    text: str, currency: str, minor: int
) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("12.5", "JPY"),  # yen have no decimals
        ("1.005", "EUR"),
        ("0", "JPY"),
        ("-100", "JPY"),
        ("1e3", "JPY"),
        ("12,00", "JPY"),
        ("", "JPY"),
        ("1200円", "JPY"),
        ("1.2.3", "EUR"),
        ("1" + "0" * 13, "JPY"),
    ],
)
def test_what_is_not_an_amount_is_refused(text: str, currency: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text, currency)


def test_amounts_and_items_as_the_till_shows_them() -> None:
    assert format_amount(1200, "JPY") == "1,200 JPY"
    assert format_amount(1250, "EUR") == "12.50 EUR"
    assert clean_item("  Lunch\tset\n") == "Lunch set"
    assert clean_item("") == "Purchase"
    with pytest.raises(ValueError):
        clean_item("x" * 201)


def test_till_commands() -> None:
    assert parse_command("charge 1200 Lunch set") == Command("charge", "1200", "Lunch set")
    assert parse_command("  CHARGE 500  ") == Command("charge", "500", "")
    assert parse_command("charge 1200 Lunch  set  for two") == Command(
        "charge", "1200", "Lunch  set  for two"
    )
    assert parse_command("") is None
    assert parse_command("retry") == Command("retry")
    assert parse_command("exit") == Command("quit")
    assert parse_command("?") == Command("help")
    for bad, says in [
        ("charge", "needs an amount"),
        ("refund 100", "unknown command"),
        ("retry now", "takes nothing"),
    ]:
        with pytest.raises(TillInputError, match=says):
            parse_command(bad)


# --- a till against the fake server ------------------------------------------------------------


@dataclass
class Screen:
    events: list[tuple[str, str]] = field(default_factory=list)

    def progress(self, event: str, text: str, **data: Any) -> None:
        self.events.append((event, text))

    def names(self) -> list[str]:
        return [event for event, _text in self.events]


@dataclass
class Pins:
    """A PIN pad: the PINs the customer will type, in order."""

    pins: list[str | None]
    interactive: bool = True
    asked: list[str] = field(default_factory=list)

    def ask(self, prompt: str) -> str | None:
        self.asked.append(prompt)
        return self.pins.pop(0) if self.pins else None


@dataclass
class Display:
    shown: list[PaymentResult] = field(default_factory=list)

    def show_payment(self, result: PaymentResult) -> None:
        self.shown.append(result)


@dataclass
class Till:
    api: FakeChargeApi
    checkout: Checkout
    presence: Presence
    display: Display
    path: Path
    stop: threading.Event

    def restart(self, **settings: Any) -> Till:
        """The same gate after a crash: new objects, the same state directory."""
        return make_till(self.api, self.path.parent, **settings)


def make_till(api: FakeChargeApi, state_dir: Path, **settings: Any) -> Till:
    state = GateState()
    state.set_config(GateConfig.from_json(api.config_json()), api.key)
    snapshot = api.handle("GET", "/api/v1/agent/gallery", {}, f"Bearer {api.token}", None)[1]
    state.set_gallery(GalleryState(api.venue_slug, 0).apply(snapshot, api.key), time.time())
    options = {
        "wait_seconds": 0.5,
        "attempts": 4,
        "retry_base": 0.01,
        "retry_cap": 0.02,
        **settings,
    }
    payment = PaymentSettings(**options)
    stop = threading.Event()
    client = AgentClient("http://gate-api.test", api.token, transport=api.transport())
    presence = Presence()
    display = Display()
    path = state_dir / "purchase.pending"
    checkout = Checkout(
        charger=Charger(client, payment, stop),
        store=PurchaseStore(path, api.key),
        state=state,
        presence=presence,
        settings=payment,
        metrics=Metrics(),
        display=display,
        stop=stop,
    )
    return Till(api, checkout, presence, display, path, stop)


@pytest.fixture
def api() -> FakeChargeApi:
    api = FakeChargeApi(pin_above_minor=3000)
    api.enroll(PAYER, [unit_vector(1)], purposes=("entry", "payment"))
    api.enroll(ENTRY_ONLY, [unit_vector(2)], purposes=("entry",))
    api.enroll(OTHER_PAYER, [unit_vector(3)], purposes=("payment",))
    api.add_payer(PAYER, pin=PIN)
    api.add_payer(OTHER_PAYER, pin="0000")
    return api


@pytest.fixture
def till(api: FakeChargeApi, tmp_path: Path) -> Iterator[Till]:
    till = make_till(api, tmp_path / "state")
    yield till
    till.stop.set()


def _buy(
    till: Till, amount: str, item: str = "Lunch set", pins: Pins | None = None
) -> tuple[PaymentResult, Screen]:
    screen = Screen()
    purchase = till.checkout.new_purchase(amount, item)
    return till.checkout.charge(purchase, pins or Pins([]), screen), screen


def test_a_purchase_below_the_pin_limit_is_charged_to_the_customer_at_the_till(
    till: Till, api: FakeChargeApi
) -> None:
    till.presence.seen([PAYER])
    result, screen = _buy(till, "1200")
    assert result.outcome == "approved"
    assert result.approved
    assert (result.amount_minor, result.currency, result.item) == (1200, "JPY", "Lunch set")
    assert result.charge_id == "ch_1"
    assert "APPROVED: 1,200 JPY for Lunch set" in result.message
    (body,) = api.charge_requests
    assert body == {
        "ref": PAYER,
        "amount_minor": 1200,
        "currency": "JPY",  # the venue's, from the gate config
        "item": "Lunch set",
        "idempotency_key": result.purchase_id,
        "pin": None,
    }
    assert screen.names() == ["waiting", "recognised"]
    assert till.display.shown == [result]
    assert not till.path.exists()  # a final answer: nothing left to resume


def test_above_the_limit_the_pin_is_asked_and_the_same_purchase_sent_with_it(
    till: Till, api: FakeChargeApi
) -> None:
    till.presence.seen([PAYER])
    pins = Pins([PIN])
    result, _screen = _buy(till, "5000", "Dinner", pins)
    assert result.outcome == "approved"
    assert len(pins.asked) == 1
    assert "PIN required for 5,000 JPY" in pins.asked[0]
    first, second = api.charge_requests
    assert (first["pin"], second["pin"]) == (None, PIN)
    assert first["idempotency_key"] == second["idempotency_key"] == result.purchase_id
    assert len(api.captured()) == 1


def test_a_wrong_pin_is_never_sent_again_on_its_own(till: Till, api: FakeChargeApi) -> None:
    till.presence.seen([PAYER])
    # Interactive: the customer is asked again and gets it right the second time.
    pins = Pins(["1111", PIN])
    screen = Screen()
    result = till.checkout.charge(till.checkout.new_purchase("5000", "Dinner"), pins, screen)
    assert result.outcome == "approved"
    assert [body["pin"] for body in api.charge_requests] == [None, "1111", PIN]
    assert ("wrong-pin", "PIN WRONG: 2 attempts left") in screen.events

    # Scripted (one PIN from a file): a wrong one ends the purchase, kept for --resume.
    api.charge_requests.clear()
    scripted = Pins(["1111"], interactive=False)
    result, _screen = _buy(till, "6000", "Dinner", scripted)
    assert result.outcome == "wrong-pin"
    assert result.attempts_left == 2
    assert result.kept
    assert [body["pin"] for body in api.charge_requests] == [None, "1111"]
    stored = till.checkout.store.load()
    assert stored is not None
    assert (stored.key, stored.stage) == (result.purchase_id, "awaiting-pin")


def test_three_wrong_pins_lock_and_an_empty_pin_cancels(till: Till, api: FakeChargeApi) -> None:
    till.presence.seen([PAYER])
    result, _ = _buy(till, "3500", pins=Pins([""]))
    assert result.outcome == "cancelled"
    assert not till.path.exists()
    assert api.captured() == []

    result, _ = _buy(till, "3500", pins=Pins(["1", "2", "3", PIN]))
    assert result.outcome == "pin-locked"
    assert "PIN LOCKED" in result.message
    assert not till.path.exists()
    assert [body["pin"] for body in api.charge_requests[-4:]] == [None, "1", "2", "3"]


def test_retries_while_the_outcome_is_unknown_always_with_the_same_key(
    till: Till, api: FakeChargeApi
) -> None:
    till.presence.seen([PAYER])
    api.fail_next("payment-provider-unavailable", "charge-in-progress", "unreachable")
    result, screen = _buy(till, "1200")
    assert result.outcome == "approved"
    keys = api.keys()
    assert len(keys) == 4
    assert set(keys) == {result.purchase_id}
    assert screen.names().count("retrying") == 3
    assert len(api.captured()) == 1


def test_declines_and_refusals_are_answers_never_retried(till: Till, api: FakeChargeApi) -> None:
    till.presence.seen([PAYER])
    api.decline_amounts.add(1300)
    result, screen = _buy(till, "1300")
    assert (result.outcome, result.decline_code) == ("declined", "card_declined")
    assert "DECLINED (card_declined)" in result.message
    assert "retrying" not in screen.names()
    assert len(api.charge_requests) == 1

    api.fail_next("idempotency-conflict")
    result, _ = _buy(till, "1400")
    assert result.outcome == "refused"
    assert "already used for a different purchase" in result.message
    assert len(api.charge_requests) == 2
    assert not till.path.exists()


def test_the_server_s_403_shows_not_allowed(till: Till, api: FakeChargeApi) -> None:
    api.add_payer(PAYER, pin=PIN, has_method=False)  # consented, but no card on file
    till.presence.seen([PAYER])
    result, _ = _buy(till, "1200")
    assert result.outcome == "not-allowed"
    assert result.message.startswith("NOT ALLOWED: this customer cannot pay by face here (no card")
    assert len(api.charge_requests) == 1
    assert not till.path.exists()


def test_people_who_cannot_be_charged_here_never_reach_the_server(
    till: Till, api: FakeChargeApi
) -> None:
    # Recognised, but enrolled for entry only: not sent (their data is not for payment).
    till.presence.seen([ENTRY_ONLY])
    result, _ = _buy(till, "1200")
    assert result.outcome == "not-allowed"
    # Two customers enrolled for payment at once: the till cannot tell who pays.
    till.presence.seen([PAYER, OTHER_PAYER])
    result, _ = _buy(till, "1200")
    assert result.outcome == "several-customers"
    # Nobody.
    empty = till.restart()
    result, _ = _buy(empty, "1200")
    assert result.outcome == "no-customer"
    assert "NO CUSTOMER" in result.message
    assert api.charge_requests == []
    assert not till.path.exists()


def test_someone_without_payment_consent_is_told_without_waiting_it_all_out(
    api: FakeChargeApi, tmp_path: Path
) -> None:
    till = make_till(api, tmp_path, wait_seconds=30.0, not_allowed_after=0.3)
    stop_seeing = threading.Event()

    def camera() -> None:  # he stays at the till
        while not stop_seeing.wait(0.05):
            till.presence.seen([ENTRY_ONLY])

    threading.Thread(target=camera, daemon=True).start()
    started = time.monotonic()
    try:
        result, _ = _buy(till, "1200")
    finally:
        stop_seeing.set()
    assert result.outcome == "not-allowed"
    assert "no payment consent at this venue" in result.message
    assert 0.3 <= time.monotonic() - started < 5
    assert api.charge_requests == []


def test_a_customer_must_have_been_seen_just_now(api: FakeChargeApi, tmp_path: Path) -> None:
    till = make_till(api, tmp_path, presence_seconds=0.05, wait_seconds=0.2)
    till.presence.seen([PAYER])
    time.sleep(0.1)  # he walked away
    result, _ = _buy(till, "1200")
    assert result.outcome == "no-customer"
    # Recognised while the purchase waits: charged.
    waiting = make_till(api, tmp_path, wait_seconds=5.0)
    threading.Timer(0.1, lambda: waiting.presence.seen([PAYER])).start()
    result, _ = _buy(waiting, "1200")
    assert result.outcome == "approved"


def test_an_unknown_outcome_is_kept_and_resumed_with_the_same_key_after_a_restart(
    till: Till, api: FakeChargeApi
) -> None:
    till.presence.seen([PAYER])
    api.fail_next(*["payment-provider-unavailable"] * 4)  # every try of this run
    result, screen = _buy(till, "5000", "Dinner")
    assert result.outcome == "pending"
    assert result.kept
    assert "NOT CONFIRMED (the payment provider is unavailable)" in result.message
    assert screen.names().count("retrying") == 3  # bounded: 4 tries in all
    assert api.captured() == []

    # On disk: sealed, the key and the customer, never the PIN.
    raw = till.path.read_bytes()
    assert b"Dinner" not in raw  # sealed
    assert result.purchase_id.encode() not in raw
    plain = json.loads(open_for_gate(api.key, raw.decode(), "optin-gate-purchase/v1"))
    assert set(plain) == {"amount_minor", "currency", "item", "key", "ref", "stage", "created_at"}
    assert PIN not in plain.values()
    assert plain["key"] == result.purchase_id
    # The only person named is the recognised payer, by venue pseudonym: nothing of a face.
    assert plain["ref"] == PAYER
    assert plain["stage"] == "sent"
    assert oct(till.path.stat().st_mode & 0o777) == "0o600"

    # The gate restarts; the provider is back. The same key, the PIN asked again.
    again = till.restart()
    stored = again.checkout.store.load()
    assert stored is not None
    done = again.checkout.complete(stored, Pins([PIN], interactive=False), Screen())
    assert done.outcome == "approved"
    assert done.purchase_id == result.purchase_id
    assert set(api.keys()) == {result.purchase_id}
    assert len(api.captured()) == 1
    assert not again.path.exists()


def test_a_stop_ends_the_retries_and_keeps_the_purchase(till: Till, api: FakeChargeApi) -> None:
    till.presence.seen([PAYER])
    api.fail_next(*["payment-provider-unavailable"] * 10)
    threading.Timer(0.005, till.stop.set).start()
    result, _ = _buy(till, "1200")
    assert result.outcome == "pending"
    assert till.path.exists()


def test_a_purchase_id_must_fit_the_contract() -> None:
    with pytest.raises(ValueError):
        Purchase(100, "JPY", "x", key="k" * 129)
    assert len(Purchase(100, "JPY", "x").key) == 36


# --- the two till programs ---------------------------------------------------------------------


def test_interactive_till_line_protocol(till: Till, api: FakeChargeApi) -> None:
    till.presence.seen([PAYER])
    stdin = io.StringIO(
        "help\n"
        "charge 12.5 Coffee\n"  # yen have no decimals
        "charge 1200 Lunch set\n"
        "charge 5000 Dinner\n"
        f"{PIN}\n"
        "status\n"
        "retry\n"
        "quit\n"
        "charge 100 never read\n"
    )
    stdout = io.StringIO()
    program = InteractiveTill(stdin, stdout)
    program.run(till.checkout, till.stop)
    out = stdout.getvalue()
    assert out.startswith("till ready (JPY): type charge AMOUNT ITEM")
    assert "ERROR: JPY has no decimal places" in out
    assert "APPROVED: 1,200 JPY for Lunch set" in out
    assert "PIN required for 5,000 JPY" in out
    assert "\nPIN?\n" in out
    assert "APPROVED: 5,000 JPY for Dinner" in out
    assert "unfinished purchase: none" in out
    assert "ERROR: there is no unfinished purchase to retry" in out
    assert not re.search(rf"\b{PIN}\b", out)
    assert [r.outcome for r in program.results] == ["approved", "approved"]
    assert [body["amount_minor"] for body in api.charge_requests] == [1200, 5000, 5000]


def test_interactive_till_in_json_and_cancel_while_waiting(
    api: FakeChargeApi, tmp_path: Path
) -> None:
    till = make_till(api, tmp_path, wait_seconds=30.0)
    stdin = io.StringIO("charge 800 Tea\ncancel\n")  # nobody at the till: cancelled, not 30 s
    stdout = io.StringIO()
    started = time.monotonic()
    InteractiveTill(stdin, stdout, as_json=True).run(till.checkout, till.stop)
    assert time.monotonic() - started < 5
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["ready", "waiting", "result"]
    assert lines[0]["currency"] == "JPY"
    assert lines[-1]["outcome"] == "cancelled"
    assert lines[-1]["approved"] is False
    assert api.charge_requests == []


def test_interactive_till_offers_the_unfinished_purchase(till: Till, api: FakeChargeApi) -> None:
    till.presence.seen([PAYER])
    api.fail_next(*["payment-provider-unavailable"] * 4)
    pending, _ = _buy(till, "1200")
    assert pending.outcome == "pending"

    stdout = io.StringIO()
    stdin = io.StringIO("charge 900 Another\nretry\n")
    InteractiveTill(stdin, stdout).run(till.restart().checkout, till.stop)
    out = stdout.getvalue()
    assert "unfinished purchase: 1,200 JPY for Lunch set (outcome unknown; purchase " in out
    assert "ERROR: the purchase of 1,200 JPY may have been charged: type retry" in out
    assert "APPROVED: 1,200 JPY for Lunch set" in out
    assert set(api.keys()) == {pending.purchase_id}


def test_scripted_charge_and_resume(till: Till, api: FakeChargeApi) -> None:
    till.presence.seen([PAYER])
    # Above the limit without a PIN: kept, waiting for the PIN.
    first = ScriptedCharge(amount="5000", item="Dinner", progress=io.StringIO())
    first.run(till.checkout, till.stop)
    assert first.result is not None
    assert first.result.outcome == "pin-required"
    assert "--resume" in first.result.message

    # A new purchase replaces it (nothing was charged)...
    api.fail_next(*["payment-provider-unavailable"] * 4)
    second = ScriptedCharge(amount="1200", item="Lunch", progress=io.StringIO())
    second.run(till.checkout, till.stop)
    assert second.result is not None
    assert second.result.outcome == "pending"

    # ...but one whose outcome is unknown blocks the next until resumed.
    third = ScriptedCharge(amount="300", item="Water", progress=io.StringIO())
    third.run(till.checkout, till.stop)
    assert third.result is not None
    assert third.result.outcome == "pending"
    assert third.result.purchase_id == second.result.purchase_id
    assert "NOT STARTED" in third.result.message

    resumed = ScriptedCharge(resume=True, progress=io.StringIO())
    resumed.run(till.restart().checkout, till.stop)
    assert resumed.result is not None
    assert resumed.result.outcome == "approved"
    assert resumed.result.purchase_id == second.result.purchase_id
    assert len(api.captured()) == 1

    with pytest.raises(TillInputError, match="no unfinished purchase"):
        ScriptedCharge(resume=True).run(till.checkout, till.stop)


def test_scripted_charge_with_a_kiosk_s_purchase_id_is_never_charged_twice(
    till: Till, api: FakeChargeApi
) -> None:
    till.presence.seen([PAYER])
    for _ in range(2):  # the kiosk lost the first answer and runs it again
        program = ScriptedCharge(
            amount="1200", item="Lunch", purchase_id="till-7/0042", progress=io.StringIO()
        )
        program.run(till.checkout, till.stop)
        assert program.result is not None
        assert program.result.outcome == "approved"
        assert program.result.charge_id == "ch_1"
    assert api.keys() == ["till-7/0042", "till-7/0042"]
    assert len(api.captured()) == 1


def test_the_server_s_specific_cause_is_what_the_till_shows() -> None:
    mismatch = ApiError(
        400,
        "Invalid input",
        "The request could not be used.",
        code="invalid-input",
        extra={"reason": "currency-mismatch", "note": "onsen-hotel takes payment in EUR"},
    )
    reply = _classify_error(mismatch)
    assert reply.kind == "refused"
    assert reply.detail == (
        "onsen-hotel takes payment in EUR: set the till's currency with --currency"
    )
    locked = _classify_error(ApiError(423, "Locked", code="pin-locked", extra={"until": "x"}))
    assert locked.kind == "pin-locked"
    unknown = _classify_error(ApiError(403, "Forbidden", "notice not yet public"))
    assert (unknown.kind, unknown.detail) == ("refused", "403 notice not yet public")


def test_a_pin_comes_from_stdin_or_a_private_file_once(tmp_path: Path) -> None:
    assert read_pin(Path("-"), io.StringIO(f"{PIN}\nrest\n")) == PIN
    private = tmp_path / "pin"
    private.write_text(f"{PIN}\n")
    private.chmod(0o600)
    pad = FilePinPad(private, io.StringIO())
    assert pad.ask("PIN?") == PIN
    assert pad.ask("PIN again?") is None  # used once: a wrong PIN is never sent again
    private.chmod(0o640)
    with pytest.raises(TillInputError, match="readable by others"):
        read_pin(private, io.StringIO())
    with pytest.raises(TillInputError, match="does not hold a PIN"):
        read_pin(Path("-"), io.StringIO("12 34\n"))


def test_the_actuators_show_the_result_without_the_customer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = PaymentResult(
        outcome="approved",
        message="APPROVED: 1,200 JPY for Lunch set (charge ch_9)",
        purchase_id="p-1",
        amount_minor=1200,
        currency="JPY",
        item="Lunch set",
        charge_id="ch_9",
    )
    caplog.set_level(logging.INFO)
    LogActuator().show_payment(result)
    assert caplog.messages == ["payment approved: 1200 JPY (charge ch_9)"]

    posted: list[dict[str, Any]] = []

    def relay(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(204)

    actuator = HttpRelayActuator("http://relay.test/", transport=httpx.MockTransport(relay))
    actuator.show_payment(result)
    actuator.close()
    assert posted == [
        {
            "open": True,
            "purpose": "payment",
            "outcome": "approved",
            "amount_minor": 1200,
            "currency": "JPY",
        }
    ]
