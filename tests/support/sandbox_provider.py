"""The sandbox payment processor, served for real: ``python -m optin payments sandbox``.

Import the fixture into a test directory's conftest.py (in the test module itself, ruff's F811
objects to every test that names it)::

    from support.sandbox_provider import sandbox_provider  # noqa: F401 - a pytest fixture

    def test_something(sandbox_provider: SandboxHandle) -> None:
        served(env={..., **sandbox_provider.env()})       # the app charges through it
        token = sandbox_provider.tokenize()               # what the person's browser would get
        sandbox_provider.control(delay_seconds=3)         # inject faults
        assert len(sandbox_provider.ledger()["payments"]) == 1

One sandbox process per test session (per xdist worker), started on first use on a free port
and stopped when the session ends; every test gets it with a fresh state (no tokens, payments or
faults). ``SandboxHandle`` talks to it with blocking httpx calls: fine from async tests too, as the
sandbox is another process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from optin.cli.payments import sandbox_subprocess
from optin.config import PaymentSettings
from optin.payments.sandbox_client import SandboxProvider
from optin.payments.sandbox_server import CARD_DECLINED, CARD_INSUFFICIENT_FUNDS, CARD_OK

from support.served_app import free_port

__all__ = [
    "CARD_DECLINED",
    "CARD_INSUFFICIENT_FUNDS",
    "CARD_OK",
    "SandboxHandle",
    "sandbox_provider",
]

_PROCESS_KEY = pytest.StashKey["SandboxHandle"]()


@dataclass(frozen=True)
class SandboxHandle:
    url: str

    def env(self) -> dict[str, str]:
        """The OPTIN_* variables that point a served app at this sandbox."""
        return {"OPTIN_PAYMENT_PROVIDER": "sandbox", "OPTIN_PAYMENT_SANDBOX_URL": self.url}

    def settings(self, timeout_seconds: float = 5.0) -> PaymentSettings:
        return PaymentSettings(sandbox_url=self.url, timeout_seconds=timeout_seconds)

    def client(self, timeout_seconds: float = 5.0) -> SandboxProvider:
        """The product's provider client on this sandbox (``await client.aclose()`` after)."""
        return SandboxProvider(self.settings(timeout_seconds))

    def tokenize(
        self,
        number: str = CARD_OK,
        *,
        exp_month: int = 12,
        exp_year: int | None = None,
        cvc: str = "123",
    ) -> str:
        """Tokenise a card as the person's browser does, and return the token."""
        body = self.tokenize_raw(number=number, exp_month=exp_month, exp_year=exp_year, cvc=cvc)
        return str(body["token"])

    def tokenize_raw(self, **card: Any) -> dict[str, Any]:
        """POST /v1/tokens with exactly these fields; raises on a non-2xx answer."""
        if card.get("exp_year") is None:
            card["exp_year"] = datetime.now(UTC).year + 3
        response = httpx.post(f"{self.url}/v1/tokens", json=card, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def control(
        self,
        *,
        delay_seconds: float | None = None,
        fail_next: int | None = None,
        reset: bool = False,
    ) -> dict[str, Any]:
        """Money calls take ``delay_seconds`` before the processor decides (the work is done
        even when the caller has gone); the next ``fail_next`` money calls answer 500 and do
        nothing; ``reset`` forgets every token, payment and fault first."""
        body: dict[str, Any] = {"reset": reset}
        if delay_seconds is not None:
            body["delay_seconds"] = delay_seconds
        if fail_next is not None:
            body["fail_next"] = fail_next
        response = httpx.post(f"{self.url}/v1/_control", json=body, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def reset(self) -> None:
        self.control(reset=True)

    def ledger(self) -> dict[str, Any]:
        """Everything the sandbox did: ``payments`` (each with ``id``, ``status``,
        ``amount_minor``, ``currency``, ``captured_minor``, ``refunded_minor``, ``refunds``,
        ``idempotency_key``, ``card``), ``payments_per_key`` {key: count}, ``tokens`` (a count)
        and ``calls`` (each money call with its ``operation``, ``idempotency_key`` and
        ``outcome``: processing, processed, refused, replayed or injected_failure), in order of
        arrival."""
        response = httpx.get(f"{self.url}/v1/_ledger", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def payments(self) -> list[dict[str, Any]]:
        return list(self.ledger()["payments"])


def _shared_sandbox(config: pytest.Config) -> SandboxHandle:
    handle = config.stash.get(_PROCESS_KEY, None)
    if handle is None:
        stack = contextlib.ExitStack()
        config.add_cleanup(stack.close)
        handle = SandboxHandle(url=stack.enter_context(sandbox_subprocess(port=free_port())))
        config.stash[_PROCESS_KEY] = handle
    return handle


@pytest.fixture
def sandbox_provider(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    """The session's sandbox processor, reset for this test (see the module docstring)."""
    handle = _shared_sandbox(request.config)
    handle.reset()
    yield handle
    # Leave no delay or pending failures behind for whoever uses it next.
    handle.reset()
