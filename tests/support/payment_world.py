"""An enrollment world whose app charges through the real sandbox processor, and a gate.

Import the fixtures into a test directory's conftest.py::

    from support.payment_world import payment_world  # noqa: F401
    from support.enrollment_world import world  # noqa: F401
    from support.sandbox_provider import sandbox_provider  # noqa: F401
    from support.smtp import smtp_server  # noqa: F401

``payment_world.payer()`` enrols someone through the API, signs them in to the portal with the
recovery code, sets a PIN and adds a card tokenised at the sandbox (as their browser would), and
returns their venue pseudonym at the hotel: what a gate would send.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from enrollment_app.asgi import create_app
from optin.db.engine import create_engine, session_factory
from optin.db.models import Charge, LedgerEntry, Venue
from optin.services.gallery import venue_key
from optin.services.gates import register_gate

from support.enrollment_world import EnrollmentWorld
from support.sandbox_provider import CARD_OK, SandboxHandle

HOTEL = "onsen-hotel"
PIN = "2468"
#: Short, so a test of a provider timeout does not wait long; the sandbox answers in ms.
PROVIDER_TIMEOUT = 1.0


@dataclass
class Payer:
    subject_id: uuid.UUID
    ref: str  # the venue pseudonym at the hotel, as its gates know the person
    recovery_code: str


@dataclass
class PaymentWorld:
    world: EnrollmentWorld
    client: AsyncTestClient[Any]
    sandbox: SandboxHandle
    gate_token: str
    csrf: str | None = None

    @property
    def settings(self) -> Any:
        return self.world.settings

    async def gate(self, venue: str = HOTEL) -> str:
        engine = create_engine(self.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                _gate, token = await register_gate(session, self.world.keys.tokens, venue, "Till")
                await session.commit()
                return token
        finally:
            await engine.dispose()

    async def ref(self, subject_id: uuid.UUID, venue: str = HOTEL) -> str:
        engine = create_engine(self.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                row = await session.scalar(select(Venue).where(Venue.slug == venue))
                assert row is not None
                return venue_key(self.world.keys.master, row).pseudonym(subject_id)
        finally:
            await engine.dispose()

    async def sign_in(self, recovery_code: str) -> str:
        self.client.cookies.clear()
        response = await self.client.post(
            "/api/v1/portal/sign-in", json={"recovery_code": recovery_code}
        )
        assert response.status_code == 200, response.text
        self.csrf = str(response.json()["csrf_token"])
        return self.csrf

    async def portal(self, method: str, path: str, json: Any = None) -> httpx.Response:
        headers = {"x-csrf-token": self.csrf} if self.csrf else {}
        return await self.client.request(
            method, f"/api/v1/portal/{path}", json=json, headers=headers
        )

    async def payer(
        self,
        photo: str = "obama/obama_4.jpg",
        *,
        email: str = "payer@example.org",
        purposes: tuple[str, ...] = ("entry", "payment"),
        pin: str | None = PIN,
        card: str | None = CARD_OK,
    ) -> Payer:
        enrolled = await self.world.enroll(photo, email=email, purposes=purposes, venues=(HOTEL,))
        subject_id = uuid.UUID(enrolled["subject_id"])
        await self.sign_in(enrolled["recovery_code"])
        if pin is not None:
            response = await self.portal("POST", "pin", {"pin": pin})
            assert response.status_code == 200, response.text
        if card is not None:
            token = self.sandbox.tokenize(card)
            response = await self.portal("POST", "payment-method", {"token": token})
            assert response.status_code == 200, response.text
        return Payer(subject_id, await self.ref(subject_id), enrolled["recovery_code"])

    async def charge(
        self,
        ref: str,
        amount_minor: int,
        key: str | None = None,
        *,
        pin: str | None = None,
        item: str = "Onsen towel",
        currency: str = "JPY",
        token: str | None = None,
    ) -> httpx.Response:
        body = {
            "ref": ref,
            "amount_minor": amount_minor,
            "currency": currency,
            "item": item,
            "idempotency_key": key or uuid.uuid4().hex,
            "pin": pin,
        }
        return await self.client.post(
            "/api/v1/agent/charges",
            json=body,
            headers={"authorization": f"Bearer {token or self.gate_token}"},
        )

    async def rows(self) -> tuple[list[Charge], list[LedgerEntry]]:
        """Every charge and ledger entry, oldest first."""
        engine = create_engine(self.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                charges = (await session.scalars(select(Charge).order_by(Charge.created_at))).all()
                ledger = (
                    await session.scalars(select(LedgerEntry).order_by(LedgerEntry.created_at))
                ).all()
                return list(charges), list(ledger)
        finally:
            await engine.dispose()


@pytest.fixture
async def payment_world(
    world: EnrollmentWorld, sandbox_provider: SandboxHandle
) -> AsyncIterator[PaymentWorld]:
    """The world's database and keys, served by an app that pays through the sandbox."""
    settings = dataclasses.replace(
        world.settings, payments=sandbox_provider.settings(timeout_seconds=PROVIDER_TIMEOUT)
    )
    async with AsyncTestClient(create_app(settings)) as client:
        moved = dataclasses.replace(world, settings=settings, client=client)
        paying = PaymentWorld(moved, client, sandbox_provider, gate_token="")
        paying.gate_token = await paying.gate()
        yield paying
