"""The payment provider interface, and the registry that picks one from the settings.

A provider turns card details into a token *in the person's browser* (the card number goes from
the page straight to the provider), then authorises, captures and refunds against that token.
Every call that moves money carries an idempotency key: a retry after a timeout returns the
first result instead of charging again. ``ProviderUnavailable`` means "unknown outcome, retry
with the same key"; a decline is a normal result, not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from optin.config import PaymentSettings
from optin.errors import ConfigurationError, OptinError


class ProviderUnavailable(OptinError):
    """The provider did not answer in time or failed: the outcome is unknown, retry later
    with the same idempotency key."""

    code = "payment-provider-unavailable"
    title = "Payment provider unavailable"
    status = 503


class ProviderRejected(OptinError):
    """The provider refused the request itself (unknown token, bad amount, refunding more than
    was captured): not retryable. ``extra["provider_code"]`` holds the provider's error code."""

    code = "payment-provider-rejected"
    title = "Payment provider refused the request"
    status = 422


@dataclass(frozen=True)
class CardToken:
    """What the provider says about a token: enough to show the person which card it is."""

    token: str
    brand: str
    last4: str

    @property
    def label(self) -> str:
        return f"{self.brand.upper()} {self.last4}"


@dataclass(frozen=True)
class ProviderResult:
    """The provider's answer to a money call.

    - ``authorize``: ``status`` is "authorized" or "declined" (with ``decline_code``, e.g.
      "card_declined", "insufficient_funds"); ``amount_minor`` is the amount asked for.
    - ``capture``: ``status`` "captured", ``amount_minor`` the amount captured.
    - ``refund``: ``status`` "refunded" (this refund went through, whether partial or full),
      ``amount_minor`` the amount of *this* refund, ``refund_id`` its id and ``refunded_minor``
      the payment's refunded total so far.
    """

    payment_id: str
    status: Literal["authorized", "captured", "declined", "refunded"]
    amount_minor: int
    currency: str
    decline_code: str | None = None
    refund_id: str | None = None
    refunded_minor: int = 0


class PaymentProvider(Protocol):
    name: str

    async def describe_token(self, token: str) -> CardToken:
        """Validate a token the browser obtained; ``ProviderRejected`` if unknown."""
        ...

    async def authorize(
        self,
        *,
        token: str,
        amount_minor: int,
        currency: str,
        description: str,
        idempotency_key: str,
    ) -> ProviderResult: ...

    async def capture(self, payment_id: str, *, idempotency_key: str) -> ProviderResult: ...

    async def refund(
        self, payment_id: str, amount_minor: int, *, idempotency_key: str
    ) -> ProviderResult: ...

    async def aclose(self) -> None: ...


ProviderFactory = Callable[[PaymentSettings], PaymentProvider]
_REGISTRY: dict[str, ProviderFactory] = {}


def register_provider(name: str, factory: ProviderFactory) -> None:
    _REGISTRY[name] = factory


def provider_from_settings(settings: PaymentSettings) -> PaymentProvider:
    # Imported here so the registry is filled without import cycles.
    from optin.payments import sandbox_client  # noqa: F401 - registers "sandbox"

    factory = _REGISTRY.get(settings.provider)
    if factory is None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigurationError(
            f"OPTIN_PAYMENT_PROVIDER={settings.provider!r} is unknown (known: {known})"
        )
    return factory(settings)
