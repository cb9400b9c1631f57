"""The sandbox processor and the product's client for it, over real HTTP to a real subprocess."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from optin.config import PaymentSettings
from optin.payments.provider import (
    ProviderRejected,
    ProviderUnavailable,
    provider_from_settings,
)
from optin.payments.sandbox_client import SandboxProvider

from support.sandbox_provider import (
    CARD_DECLINED,
    CARD_INSUFFICIENT_FUNDS,
    CARD_OK,
    SandboxHandle,
)
from support.served_app import free_port

FUTURE_YEAR = datetime.now(UTC).year + 3


@pytest.fixture
async def client(sandbox_provider: SandboxHandle) -> AsyncIterator[SandboxProvider]:
    provider = sandbox_provider.client(timeout_seconds=5.0)
    try:
        yield provider
    finally:
        await provider.aclose()


def _key() -> str:
    return f"test-{uuid.uuid4()}"


async def _authorize(
    client: SandboxProvider, token: str, key: str, amount: int = 1500
) -> tuple[str, str]:
    result = await client.authorize(
        token=token, amount_minor=amount, currency="JPY", description="Entry", idempotency_key=key
    )
    return result.payment_id, result.status


async def test_registry_builds_the_sandbox_client(sandbox_provider: SandboxHandle) -> None:
    provider = provider_from_settings(sandbox_provider.settings())
    try:
        assert isinstance(provider, SandboxProvider)
        assert provider.name == "sandbox"
        card = await provider.describe_token(sandbox_provider.tokenize())
        assert card.label == "VISA 4242"
    finally:
        await provider.aclose()


async def test_tokenise_then_describe(
    sandbox_provider: SandboxHandle, client: SandboxProvider
) -> None:
    tokenised = sandbox_provider.tokenize_raw(
        number="4242 4242 4242 4242", exp_month="07", exp_year=str(FUTURE_YEAR % 100), cvc="123"
    )
    assert tokenised["brand"] == "visa"
    assert tokenised["last4"] == "4242"
    assert "4242424242424242" not in str(tokenised)

    card = await client.describe_token(tokenised["token"])
    assert (card.token, card.brand, card.last4) == (tokenised["token"], "visa", "4242")

    jcb = await client.describe_token(sandbox_provider.tokenize("3566002020360505"))
    assert jcb.label == "JCB 0505"


async def test_unknown_token_is_rejected(client: SandboxProvider) -> None:
    with pytest.raises(ProviderRejected) as caught:
        await client.describe_token("tok_doesnotexist")
    assert caught.value.extra["provider_code"] == "no_such_token"
    with pytest.raises(ProviderRejected):
        await client.describe_token("../_ledger")
    with pytest.raises(ProviderRejected) as caught:
        await client.authorize(
            token="tok_doesnotexist",
            amount_minor=100,
            currency="JPY",
            description="",
            idempotency_key=_key(),
        )
    assert "No such card token" in caught.value.detail


async def test_authorize_then_capture(
    sandbox_provider: SandboxHandle, client: SandboxProvider
) -> None:
    token = sandbox_provider.tokenize(CARD_OK)
    authorized = await client.authorize(
        token=token,
        amount_minor=2500,
        currency="jpy",
        description="Adventure World entry",
        idempotency_key=_key(),
    )
    assert authorized.status == "authorized"
    assert (authorized.amount_minor, authorized.currency) == (2500, "JPY")
    assert authorized.decline_code is None

    capture_key = _key()
    captured = await client.capture(authorized.payment_id, idempotency_key=capture_key)
    assert captured.status == "captured"
    assert captured.payment_id == authorized.payment_id
    # The same capture again (a retry) is the same answer, not an error or a second capture.
    assert await client.capture(authorized.payment_id, idempotency_key=capture_key) == captured
    # A new capture of a captured payment is refused.
    with pytest.raises(ProviderRejected):
        await client.capture(authorized.payment_id, idempotency_key=_key())

    [payment] = sandbox_provider.payments()
    assert payment["status"] == "captured"
    assert payment["captured_minor"] == 2500
    assert payment["description"] == "Adventure World entry"
    assert payment["card"] == {"brand": "visa", "last4": "4242"}


@pytest.mark.parametrize(
    ("number", "code"),
    [(CARD_DECLINED, "card_declined"), (CARD_INSUFFICIENT_FUNDS, "insufficient_funds")],
)
async def test_declines_are_results(
    sandbox_provider: SandboxHandle, client: SandboxProvider, number: str, code: str
) -> None:
    result = await client.authorize(
        token=sandbox_provider.tokenize(number),
        amount_minor=800,
        currency="JPY",
        description="Coffee",
        idempotency_key=_key(),
    )
    assert result.status == "declined"
    assert result.decline_code == code
    # A declined payment cannot be captured.
    with pytest.raises(ProviderRejected) as caught:
        await client.capture(result.payment_id, idempotency_key=_key())
    assert caught.value.extra["provider_code"] == "payment_not_capturable"


async def test_timeout_then_retry_with_the_same_key_charges_once(
    sandbox_provider: SandboxHandle,
) -> None:
    token = sandbox_provider.tokenize()
    key = _key()
    impatient = sandbox_provider.client(timeout_seconds=0.3)
    patient = sandbox_provider.client(timeout_seconds=5.0)
    try:
        sandbox_provider.control(delay_seconds=1.0)
        started = time.monotonic()
        with pytest.raises(ProviderUnavailable) as caught:
            await _authorize(impatient, token, key)
        assert time.monotonic() - started < 0.9
        assert caught.value.extra["reason"] == "timeout"

        # The first request goes on without its caller: the money moves anyway.
        await asyncio.sleep(1.2)
        sandbox_provider.control(delay_seconds=0)
        [payment] = sandbox_provider.payments()
        assert payment["status"] == "authorized"

        payment_id, status = await _authorize(patient, token, key)
        assert (payment_id, status) == (payment["id"], "authorized")
        ledger = sandbox_provider.ledger()
        assert len(ledger["payments"]) == 1
        assert ledger["payments_per_key"] == {key: 1}
        assert [c["outcome"] for c in ledger["calls"]] == ["processed", "replayed"]
    finally:
        await impatient.aclose()
        await patient.aclose()


async def test_retry_while_the_first_attempt_is_still_processing(
    sandbox_provider: SandboxHandle,
) -> None:
    token = sandbox_provider.tokenize()
    key = _key()
    impatient = sandbox_provider.client(timeout_seconds=0.3)
    patient = sandbox_provider.client(timeout_seconds=5.0)
    try:
        sandbox_provider.control(delay_seconds=1.5)
        with pytest.raises(ProviderUnavailable):
            await _authorize(impatient, token, key)
        ledger = sandbox_provider.ledger()
        assert ledger["payments"] == []  # still at the card network
        assert [c["outcome"] for c in ledger["calls"]] == ["processing"]
        # The retry joins the attempt in flight instead of starting another.
        payment_id, _ = await _authorize(patient, token, key)
        ledger = sandbox_provider.ledger()
        assert [p["id"] for p in ledger["payments"]] == [payment_id]
        assert [c["outcome"] for c in ledger["calls"]] == ["processed", "replayed"]
    finally:
        await impatient.aclose()
        await patient.aclose()


async def test_server_errors_are_unavailable_and_retryable(
    sandbox_provider: SandboxHandle, client: SandboxProvider
) -> None:
    token = sandbox_provider.tokenize()
    key = _key()
    sandbox_provider.control(fail_next=2)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable) as caught:
            await _authorize(client, token, key)
        assert caught.value.extra["reason"] == "provider_error"
    assert sandbox_provider.payments() == []

    payment_id, status = await _authorize(client, token, key)
    assert status == "authorized"
    ledger = sandbox_provider.ledger()
    assert [p["id"] for p in ledger["payments"]] == [payment_id]
    outcomes = [c["outcome"] for c in ledger["calls"]]
    assert outcomes == ["injected_failure", "injected_failure", "processed"]

    # Captures and refunds fail the same way.
    sandbox_provider.control(fail_next=1)
    capture_key = _key()
    with pytest.raises(ProviderUnavailable):
        await client.capture(payment_id, idempotency_key=capture_key)
    assert (await client.capture(payment_id, idempotency_key=capture_key)).status == "captured"
    sandbox_provider.control(fail_next=1)
    with pytest.raises(ProviderUnavailable):
        await client.refund(payment_id, 100, idempotency_key=_key())


async def test_unreachable_provider_is_unavailable() -> None:
    provider = SandboxProvider(
        PaymentSettings(sandbox_url=f"http://127.0.0.1:{free_port()}", timeout_seconds=2)
    )
    try:
        with pytest.raises(ProviderUnavailable) as caught:
            await provider.describe_token("tok_x")
        assert caught.value.extra["reason"] == "unreachable"
    finally:
        await provider.aclose()


async def test_partial_and_full_refunds(
    sandbox_provider: SandboxHandle, client: SandboxProvider
) -> None:
    payment_id, _ = await _authorize(client, sandbox_provider.tokenize(), _key(), amount=3000)
    with pytest.raises(ProviderRejected) as caught:
        await client.refund(payment_id, 100, idempotency_key=_key())
    assert caught.value.extra["provider_code"] == "payment_not_refundable"
    await client.capture(payment_id, idempotency_key=_key())

    first_key = _key()
    first = await client.refund(payment_id, 1000, idempotency_key=first_key)
    assert (first.status, first.amount_minor, first.refunded_minor) == ("refunded", 1000, 1000)
    assert first.refund_id
    # Retrying the same refund does not refund twice.
    assert await client.refund(payment_id, 1000, idempotency_key=first_key) == first
    # The same key with another amount is a mistake, not a new refund.
    with pytest.raises(ProviderRejected) as caught:
        await client.refund(payment_id, 500, idempotency_key=first_key)
    assert caught.value.extra["provider_code"] == "idempotency_key_reused"

    with pytest.raises(ProviderRejected) as caught:
        await client.refund(payment_id, 2001, idempotency_key=_key())
    assert caught.value.extra["provider_code"] == "refund_exceeds_captured"
    assert "only 2000 of 3000" in caught.value.detail

    rest = await client.refund(payment_id, 2000, idempotency_key=_key())
    assert (rest.amount_minor, rest.refunded_minor) == (2000, 3000)
    with pytest.raises(ProviderRejected):
        await client.refund(payment_id, 1, idempotency_key=_key())

    [payment] = sandbox_provider.payments()
    assert payment["status"] == "refunded"
    assert (payment["captured_minor"], payment["refunded_minor"]) == (3000, 3000)
    assert [r["amount_minor"] for r in payment["refunds"]] == [1000, 2000]


async def test_concurrent_duplicates_make_one_payment(
    sandbox_provider: SandboxHandle, client: SandboxProvider
) -> None:
    token = sandbox_provider.tokenize()
    key = _key()
    # A processing delay keeps the first attempt in flight while the others arrive.
    sandbox_provider.control(delay_seconds=0.5)
    results = await asyncio.gather(*(_authorize(client, token, key) for _ in range(20)))
    assert {payment_id for payment_id, _ in results} == {results[0][0]}
    assert {status for _, status in results} == {"authorized"}
    ledger = sandbox_provider.ledger()
    assert len(ledger["payments"]) == 1
    assert ledger["payments_per_key"] == {key: 1}
    outcomes = sorted(c["outcome"] for c in ledger["calls"])
    assert outcomes == ["processed"] + ["replayed"] * 19


async def test_a_key_is_bound_to_its_request(
    sandbox_provider: SandboxHandle, client: SandboxProvider
) -> None:
    token = sandbox_provider.tokenize()
    key = _key()
    await _authorize(client, token, key, amount=1000)
    with pytest.raises(ProviderRejected) as caught:
        await _authorize(client, token, key, amount=2000)
    assert caught.value.extra["provider_code"] == "idempotency_key_reused"
    assert len(sandbox_provider.payments()) == 1


def test_money_calls_need_an_idempotency_key(sandbox_provider: SandboxHandle) -> None:
    token = sandbox_provider.tokenize()
    response = httpx.post(
        f"{sandbox_provider.url}/v1/payments",
        json={"token": token, "amount_minor": 100, "currency": "JPY"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"
    bad_amount = httpx.post(
        f"{sandbox_provider.url}/v1/payments",
        json={"token": token, "amount_minor": 0, "currency": "JPY"},
        headers={"Idempotency-Key": _key()},
    )
    assert bad_amount.status_code == 400
    assert bad_amount.json()["error"]["param"] == "amount_minor"


def test_cors_preflight_and_answers_for_the_browser(sandbox_provider: SandboxHandle) -> None:
    origin = "http://127.0.0.1:8000"
    preflight = httpx.options(
        f"{sandbox_provider.url}/v1/tokens",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] in ("*", origin)
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "content-type" in preflight.headers["access-control-allow-headers"].lower()

    ok = httpx.post(
        f"{sandbox_provider.url}/v1/tokens",
        json={"number": CARD_OK, "exp_month": 12, "exp_year": FUTURE_YEAR, "cvc": "123"},
        headers={"Origin": origin},
    )
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] in ("*", origin)
    # The page must be able to read a refusal too, to show it to the person.
    refused = httpx.post(
        f"{sandbox_provider.url}/v1/tokens",
        json={"number": "4242424242424241", "exp_month": 12, "exp_year": FUTURE_YEAR, "cvc": "123"},
        headers={"Origin": origin},
    )
    assert refused.status_code == 400
    assert refused.headers["access-control-allow-origin"] in ("*", origin)


@pytest.mark.parametrize(
    ("card", "code", "message"),
    [
        ({"number": "4242424242424241"}, "invalid_number", "not valid"),
        ({"number": "4242-4242-abcd"}, "invalid_number", "only digits"),
        ({"number": "42424242"}, "invalid_number", "between 12 and 19"),
        ({"number": ""}, "invalid_number", "missing"),
        ({"exp_month": 13}, "invalid_exp_month", "between 1 and 12"),
        ({"exp_month": 1, "exp_year": 2020}, "expired_card", "expired"),
        ({"exp_year": "soon"}, "invalid_exp_year", "must be a number"),
        ({"cvc": "12"}, "invalid_cvc", "3 or 4 digits"),
    ],
)
def test_bad_cards_are_refused_readably(
    sandbox_provider: SandboxHandle, card: dict[str, object], code: str, message: str
) -> None:
    body = {"number": CARD_OK, "exp_month": 12, "exp_year": FUTURE_YEAR, "cvc": "123", **card}
    response = httpx.post(f"{sandbox_provider.url}/v1/tokens", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert message in error["message"]
    # A refusal never echoes the card number back.
    assert "424242424242" not in response.text
    assert sandbox_provider.ledger()["tokens"] == 0


def test_unknown_paths_answer_in_the_error_shape(sandbox_provider: SandboxHandle) -> None:
    response = httpx.get(f"{sandbox_provider.url}/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "invalid_request"
    bad_json = httpx.post(
        f"{sandbox_provider.url}/v1/tokens",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["code"] == "invalid_json"


def test_control_refuses_nonsense_and_reset_forgets(sandbox_provider: SandboxHandle) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        sandbox_provider.control(delay_seconds=-1)
    with pytest.raises(httpx.HTTPStatusError):
        sandbox_provider.control(fail_next=-2)
    sandbox_provider.tokenize()
    assert sandbox_provider.control(delay_seconds=0.25, fail_next=3) == {
        "delay_seconds": 0.25,
        "fail_next": 3,
    }
    assert sandbox_provider.control(reset=True) == {"delay_seconds": 0.0, "fail_next": 0}
    assert sandbox_provider.ledger()["tokens"] == 0
