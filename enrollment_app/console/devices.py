"""Registered console devices: administrators issue one-time registration links, the operator's
browser spends one and keeps a device cookie; operators see and revoke their own devices,
administrators anyone's."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody

from enrollment_app.console.context import Console, client_address, device_cookie
from enrollment_app.state import DbSession, Services
from optin.db.models import Operator
from optin.errors import NotFound
from optin.services.operator_devices import (
    describe_device,
    issue_registration,
    list_devices,
    register_device,
)
from optin.services.operators import revoke_device
from optin.services.roles import Permission, allows


class RegistrationIn(msgspec.Struct, forbid_unknown_fields=True):
    label: Annotated[str, msgspec.Meta(max_length=100)]


class RegisterIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(max_length=128)]


async def _operator(console: Console, operator_id: UUID) -> Operator:
    operator = await console.db.get(Operator, operator_id)
    if operator is None:
        raise NotFound("no such operator")
    return operator


class DevicesController(Controller):
    path = "/api/v1/console"
    tags = ["console"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @get("/devices", summary="Your registered devices (and registration links not yet used)")
    async def own(self, console: Console) -> list[dict[str, Any]]:
        return [describe_device(d) for d in await list_devices(console.db, console.operator.id)]

    @get("/operators/{operator_id:uuid}/devices", summary="An operator's devices")
    async def of_operator(
        self, console: Console, operator_id: FromPath[UUID]
    ) -> list[dict[str, Any]]:
        await console.require(Permission.MANAGE_OPERATORS)
        return [describe_device(d) for d in await list_devices(console.db, operator_id)]

    @post(
        "/operators/{operator_id:uuid}/devices",
        summary="Issue a one-time, short-lived device registration link for an operator",
        status_code=201,
    )
    async def issue(
        self, console: Console, operator_id: FromPath[UUID], data: JSONBody[RegistrationIn]
    ) -> Response[dict[str, Any]]:
        await console.require(Permission.MANAGE_OPERATORS)
        operator = await _operator(console, operator_id)
        registration = await issue_registration(
            console.db, console.services.keys.tokens, operator, data.label, console.actor
        )
        issued = describe_device(registration.device, operator.username)
        issued["url"] = registration.url(console.services.settings.base_url)
        issued["code"] = registration.code
        # Shown once: neither the link nor the code can be read again.
        return Response(issued, headers={"cache-control": "no-store"})

    @post(
        "/devices/register",
        summary="Spend a registration code: this browser becomes the operator's device",
        status_code=200,
    )
    async def register(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RegisterIn],
        db_session: DbSession,
        services: Services,
    ) -> Response[dict[str, Any]]:
        registered = await register_device(
            db_session,
            services.keys.tokens,
            data.code.strip(),
            client=client_address(request),
            user_agent=request.headers.get("user-agent"),
        )
        return Response(
            describe_device(registered.device, registered.operator.username),
            cookies=[device_cookie(services, registered)],
            headers={"cache-control": "no-store"},
        )

    @post("/devices/{device_id:uuid}/revoke", summary="Revoke a device", status_code=200)
    async def revoke(self, console: Console, device_id: FromPath[UUID]) -> dict[str, Any]:
        # Your own devices, always; anyone's, with the right to manage operators.
        mine = not allows(console.operator.role, Permission.MANAGE_OPERATORS)
        device = await revoke_device(
            console.db, device_id, console.actor, owner=console.operator.id if mine else None
        )
        return describe_device(device)
