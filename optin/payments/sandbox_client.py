"""``SandboxProvider``: the ``PaymentProvider`` that talks to the sandbox processor over HTTP.

How answers map to the interface: a timeout, a broken connection or a 5xx (or 429) means the
outcome is unknown, so ``ProviderUnavailable`` (retry with the same idempotency key); any other
4xx is the processor refusing the request itself, so ``ProviderRejected`` with its message. A
decline is a normal ``ProviderResult`` with ``status="declined"``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx

from optin.config import PaymentSettings
from optin.payments.provider import (
    CardToken,
    ProviderRejected,
    ProviderResult,
    ProviderUnavailable,
    register_provider,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"


class SandboxProvider:
    name = "sandbox"

    def __init__(
        self, settings: PaymentSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=settings.sandbox_url.rstrip("/"),
            timeout=settings.timeout_seconds,
            transport=transport,
        )

    async def describe_token(self, token: str) -> CardToken:
        # The token goes in the path, so refuse anything that could change the path.
        if not token.isascii() or not token.replace("_", "").replace("-", "").isalnum():
            raise ProviderRejected("That is not a card token.", provider_code="no_such_token")
        body = await self._call("GET", f"/v1/tokens/{token}")
        with _readable():
            return CardToken(
                token=str(body["token"]), brand=str(body["brand"]), last4=str(body["last4"])
            )

    async def authorize(
        self,
        *,
        token: str,
        amount_minor: int,
        currency: str,
        description: str,
        idempotency_key: str,
    ) -> ProviderResult:
        body = await self._call(
            "POST",
            "/v1/payments",
            json={
                "token": token,
                "amount_minor": amount_minor,
                "currency": currency,
                "description": description,
            },
            idempotency_key=idempotency_key,
        )
        return _result(body)

    async def capture(self, payment_id: str, *, idempotency_key: str) -> ProviderResult:
        body = await self._call(
            "POST", f"/v1/payments/{_path_id(payment_id)}/capture", idempotency_key=idempotency_key
        )
        return _result(body)

    async def refund(
        self, payment_id: str, amount_minor: int, *, idempotency_key: str
    ) -> ProviderResult:
        body = await self._call(
            "POST",
            f"/v1/payments/{_path_id(payment_id)}/refunds",
            json={"amount_minor": amount_minor},
            idempotency_key=idempotency_key,
        )
        with _readable():
            payment = body["payment"]
            return ProviderResult(
                payment_id=str(payment["id"]),
                status="refunded",
                amount_minor=int(body["amount_minor"]),
                currency=str(body["currency"]),
                refund_id=str(body["id"]),
                refunded_minor=int(payment["refunded_minor"]),
            )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else {}
        try:
            response = await self._client.request(method, path, json=json, headers=headers)
        except httpx.TimeoutException:
            raise ProviderUnavailable(
                "The payment provider did not answer in time.", reason="timeout"
            ) from None
        except httpx.TransportError as exc:
            raise ProviderUnavailable(
                f"The payment provider could not be reached ({type(exc).__name__}).",
                reason="unreachable",
            ) from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ProviderUnavailable(
                f"The payment provider failed (HTTP {response.status_code}).",
                reason="provider_error",
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            error = error if isinstance(error, dict) else {}
            raise ProviderRejected(
                str(error.get("message") or f"Refused with HTTP {response.status_code}."),
                provider_code=str(error.get("code") or "invalid_request"),
                provider_status=response.status_code,
            )
        if not isinstance(body, dict):
            # A success we cannot read: whether money moved is unknown.
            raise ProviderUnavailable(
                "The payment provider sent an unreadable answer.", reason="bad_response"
            )
        return body


def _path_id(payment_id: str) -> str:
    if not payment_id.isascii() or not payment_id.replace("_", "").isalnum():
        raise ProviderRejected("That is not a payment id.", provider_code="no_such_payment")
    return payment_id


@contextlib.contextmanager
def _readable() -> Iterator[None]:
    """A 2xx answer missing its fields: the call happened, its outcome is unknown."""
    try:
        yield
    except (KeyError, TypeError, ValueError):
        raise ProviderUnavailable(
            "The payment provider sent an unreadable answer.", reason="bad_response"
        ) from None


def _result(body: dict[str, Any]) -> ProviderResult:
    with _readable():
        status = body["status"]
        if status not in ("authorized", "captured", "declined", "refunded"):
            raise ValueError(status)
        decline_code = body.get("decline_code")
        return ProviderResult(
            payment_id=str(body["id"]),
            status=status,
            amount_minor=int(body["amount_minor"]),
            currency=str(body["currency"]),
            decline_code=str(decline_code) if decline_code else None,
            refunded_minor=int(body.get("refunded_minor") or 0),
        )


def _factory(settings: PaymentSettings) -> SandboxProvider:
    return SandboxProvider(settings)


register_provider("sandbox", _factory)
