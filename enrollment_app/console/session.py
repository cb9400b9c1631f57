"""Console sign-in and sign-out: password + TOTP, then an HttpOnly cookie session."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import JSONBody

from enrollment_app.console.context import (
    Console,
    client_address,
    ended_cookies,
    session_cookies,
)
from enrollment_app.state import DbSession, Services
from optin.db.models import Operator, OperatorSession
from optin.errors import OptinError
from optin.services.operator_devices import device_cookies
from optin.services.operators import sign_in, sign_out
from optin.services.roles import ROLE_PERMISSIONS


class SignInIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(max_length=64)]
    password: Annotated[str, msgspec.Meta(max_length=256)]
    code: Annotated[str, msgspec.Meta(max_length=16)]


def whoami(operator: Operator, console: OperatorSession, csrf: str | None = None) -> dict[str, Any]:
    described: dict[str, Any] = {
        "username": operator.username,
        "role": str(operator.role),
        "venue_id": str(operator.venue_id) if operator.venue_id else None,
        "permissions": sorted(str(p) for p in ROLE_PERMISSIONS[operator.role]),
        "session_expires_at": console.expires_at.isoformat(),
    }
    if csrf is not None:
        described["csrf_token"] = csrf
    return described


class ConsoleSessionController(Controller):
    path = "/api/v1/console"
    tags = ["console"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @post(
        "/sign-in", summary="Operator sign-in: user name, password and TOTP code", status_code=200
    )
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SignInIn],
        db_session: DbSession,
        services: Services,
    ) -> Response[dict[str, Any]]:
        # Per address, on top of each account's lock-out: one address may not try a password
        # on every account in turn.
        address = client_address(request)
        limiter = services.sign_in_limiter
        limiter.check(address or "unknown")
        try:
            signed = await sign_in(
                db_session,
                services.keys.master,
                services.keys.tokens,
                services.settings.console,
                username=data.username,
                password=data.password,
                code=data.code,
                client=address,
                user_agent=request.headers.get("user-agent"),
                cookies=device_cookies(request.cookies),
            )
        except OptinError:
            limiter.failed(address or "unknown")
            raise
        return Response(
            whoami(signed.operator, signed.session, signed.csrf),
            cookies=session_cookies(services, signed.cookie, signed.csrf),
            headers={"cache-control": "no-store"},
        )

    @post("/sign-out", summary="End the console session", status_code=200)
    async def sign_out(self, console: Console) -> Response[dict[str, bool]]:
        await sign_out(console.db, console.session)
        return Response({"signed_out": True}, cookies=ended_cookies())

    @get("/me", summary="The signed-in operator, role, permissions and session limit")
    async def me(self, console: Console) -> dict[str, Any]:
        return whoami(console.operator, console.session)
