"""Operators for console tests: accounts made through the service, clients signed in as them.

Every account gets a registered device, the way an operator does: a registration code issued
through the service, spent over HTTP at the real endpoint; the device cookie it returns is kept
in the ``Credentials`` and handed to every client that signs in as the account. The console
suite thus runs with the registered-device rule on, as production does.
``ConsoleWorld`` sits on an ``EnrollmentWorld`` (same database and keys). Each signed-in
operator gets their own in-process client (their own cookies), and every request appears to come
from ``address``: Litestar's test client otherwise reports the non-address "testclient", which
the allowed-networks rule rightly refuses.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from enrollment_app.asgi import create_app
from optin.crypto import totp
from optin.db.engine import create_engine, session_factory
from optin.db.enums import OperatorRole
from optin.db.models import AuditEntry
from optin.db.models import Operator as OperatorRow
from optin.services.audit import Actor
from optin.services.operator_devices import issue_registration
from optin.services.operators import create_operator
from optin.services.venues import venues_by_slug

from support.enrollment_world import EnrollmentWorld

OFFICE = "192.168.10.20"
REGISTER = "/api/v1/console/devices/register"
PASSWORD = "correct horse battery staple"


@dataclass
class Credentials:
    username: str
    password: str
    secret: str = field(repr=False)
    role: OperatorRole
    accepted_step: int = 0
    offered_step: int = 0
    #: The registered device's cookie (name -> token); empty for an account without a device.
    device_cookies: dict[str, str] = field(default_factory=dict, repr=False)

    def code(self) -> str:
        """A TOTP code newer than the last one accepted (each code works once)."""
        self.offered_step = max(totp.step_of(time.time()), self.accepted_step + 1)
        return totp.code_at(self.secret, self.offered_step)

    def accepted(self) -> None:
        """The server took the last code offered: the next sign-in needs a newer one."""
        self.accepted_step = self.offered_step

    def sign_in_body(self, **changes: str) -> dict[str, str]:
        body = {"username": self.username, "password": self.password} | changes
        return {"code": body.get("code") or self.code()} | body


def from_address(app: Any, host: str) -> Any:
    """The ASGI app, seeing every request as coming from ``host``."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in {"http", "websocket"}:
            scope = {**scope, "client": (host, 50000)}
        await app(scope, receive, send)

    return wrapped


@dataclass
class Operator:
    client: AsyncTestClient[Any]
    csrf: str
    credentials: Credentials

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.client.get(path, **kwargs)

    async def post(self, path: str, json: Any = None) -> Any:
        return await self.client.post(path, json=json, headers={"x-csrf-token": self.csrf})

    async def patch(self, path: str, json: Any = None) -> Any:
        return await self.client.patch(path, json=json, headers={"x-csrf-token": self.csrf})


@dataclass
class ConsoleWorld:
    world: EnrollmentWorld

    async def account(
        self,
        role: OperatorRole,
        username: str | None = None,
        *,
        venue: str | None = None,
        networks: tuple[str, ...] = ("192.168.0.0/16", "127.0.0.0/8"),
        hours: tuple[str, ...] = ("daily 00:00-24:00",),
        device: bool = True,
    ) -> Credentials:
        engine = create_engine(self.world.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                venue_id = (await venues_by_slug(session, [venue]))[0].id if venue else None
                created = await create_operator(
                    session,
                    self.world.keys.master,
                    username=username or str(role).replace("_", "-"),
                    password=PASSWORD,
                    role=role,
                    venue_id=venue_id,
                    networks=networks,
                    hours=hours,
                    actor=Actor.system(),
                )
        finally:
            await engine.dispose()
        credentials = Credentials(created.operator.username, PASSWORD, created.totp_secret, role)
        if device:
            await self.register_device(credentials)
        return credentials

    async def register_device(self, credentials: Credentials) -> None:
        """Register a browser for the account through the real endpoint; keep its cookie."""
        async with self.client() as client:
            registered = await client.post(REGISTER, json={"code": await self.code(credentials)})
            assert registered.status_code == 200, registered.text
            credentials.device_cookies = dict(client.cookies)

    async def operator_id(self, credentials: Credentials) -> UUID:
        engine = create_engine(self.world.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                found = await session.scalar(
                    select(OperatorRow.id).where(OperatorRow.username == credentials.username)
                )
        finally:
            await engine.dispose()
        assert found is not None
        return found

    async def code(self, credentials: Credentials, label: str = "test browser") -> str:
        """A fresh one-time device registration code for the account (issued by the system)."""
        engine = create_engine(self.world.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                operator = await session.scalar(
                    select(OperatorRow).where(OperatorRow.username == credentials.username)
                )
                assert operator is not None
                registration = await issue_registration(
                    session, self.world.keys.tokens, operator, label, Actor.system()
                )
        finally:
            await engine.dispose()
        return registration.code

    async def audit(self, action: str) -> list[AuditEntry]:
        """The audit entries with ``action``, oldest first."""
        engine = create_engine(self.world.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                rows = await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
                )
                return list(rows.all())
        finally:
            await engine.dispose()

    @contextlib.asynccontextmanager
    async def client(
        self, address: str = OFFICE, device: Credentials | None = None
    ) -> AsyncIterator[AsyncTestClient[Any]]:
        """A browser at ``address``; holding ``device``'s registered device cookie, if given."""
        app = from_address(create_app(self.world.settings), address)
        async with AsyncTestClient(app) as client:
            if device is not None:
                client.cookies.update(device.device_cookies)
            yield client

    @contextlib.asynccontextmanager
    async def signed_in(
        self, credentials: Credentials, address: str = OFFICE
    ) -> AsyncIterator[Operator]:
        """A client signed in as the account, from its registered device (one is registered
        first for an account made elsewhere, e.g. through the console API)."""
        if not credentials.device_cookies:
            await self.register_device(credentials)
        async with self.client(address, credentials) as client:
            response = await client.post("/api/v1/console/sign-in", json=credentials.sign_in_body())
            assert response.status_code == 200, response.text
            credentials.accepted()
            yield Operator(client, response.json()["csrf_token"], credentials)
