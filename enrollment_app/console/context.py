"""Who is calling the console API, and what they may do.

Every console handler takes a ``ConsoleContext``: the signed-in operator (cookie session, CSRF
token on every change), a ``require`` that refuses with 403 *and* audits the attempt, and an
``audit`` for the handler's own action. Handlers check a permission before reading anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from litestar import Request
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from enrollment_app.state import AppServices, DbSession, Services
from optin.db.engine import begin_writing
from optin.db.enums import OperatorRole
from optin.db.models import Operator, OperatorSession
from optin.errors import Forbidden, InvalidInput
from optin.services.audit import Actor, record
from optin.services.operator_devices import DEVICE_COOKIE_MAX_AGE, RegisteredDevice
from optin.services.operators import check_csrf, current_operator
from optin.services.roles import VENUE_SCOPED, Permission, allows

SESSION_COOKIE: Final = "optin_console"
CSRF_COOKIE: Final = "optin_console_csrf"
CSRF_HEADER: Final = "x-csrf-token"
API_PATH: Final = "/api/v1/console"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


def client_address(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


def _secure(services: AppServices) -> bool:
    return services.settings.base_url.startswith("https://")


def session_cookies(services: AppServices, token: str, csrf: str) -> list[Cookie]:
    common: dict[str, Any] = {"path": "/", "samesite": "strict", "secure": _secure(services)}
    return [
        Cookie(key=SESSION_COOKIE, value=token, httponly=True, **common),
        Cookie(key=CSRF_COOKIE, value=csrf, httponly=False, **common),
    ]


def device_cookie(services: AppServices, registered: RegisteredDevice) -> Cookie:
    """The long-lived cookie that makes this browser a registered device; sent only to the
    console API (where sign-in reads it), never readable by scripts."""
    return Cookie(
        key=registered.cookie_name,
        value=registered.cookie,
        path=API_PATH,
        max_age=DEVICE_COOKIE_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=_secure(services),
    )


def ended_cookies() -> list[Cookie]:
    return [
        Cookie(key=name, value="", max_age=0, path="/") for name in (SESSION_COOKIE, CSRF_COOKIE)
    ]


@dataclass
class ConsoleContext:
    db: AsyncSession
    services: AppServices
    operator: Operator
    session: OperatorSession
    method: str
    path: str

    @property
    def actor(self) -> Actor:
        return Actor.operator(self.operator.id)

    async def require(self, permission: Permission, venue_id: UUID | None = None) -> None:
        """Refuse (403) unless the role holds ``permission`` (for ``venue_id``, if scoped);
        the refusal is audited before the error leaves."""
        allowed = allows(self.operator.role, permission)
        if (
            allowed
            and self.operator.role == OperatorRole.VENUE_STAFF
            and permission in VENUE_SCOPED
            and venue_id != self.operator.venue_id
        ):
            allowed = False
        if allowed:
            return
        await record(
            self.db,
            self.actor,
            "console.denied",
            details={
                **self.device,
                "permission": str(permission),
                "role": str(self.operator.role),
                "request": f"{self.method} {self.path}",
            },
        )
        await self.db.commit()
        raise Forbidden(f"your role ({self.operator.role}) may not do this")

    async def audit(
        self,
        action: str,
        *,
        subject_id: UUID | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record the handler's action in the current transaction (the handler commits), with
        the session and device it came from."""
        await record(
            self.db,
            self.actor,
            action,
            subject_id=subject_id,
            reason=reason,
            details={**self.device, **(details or {})},
        )

    @property
    def device(self) -> dict[str, str | None]:
        return {
            "session": str(self.session.id),
            "client": self.session.client_address,
            "user_agent": self.session.user_agent,
        }


def required_reason(reason: str | None) -> str:
    """Looking at or exporting a person's data needs a stated reason (leak prevention)."""
    text = (reason or "").strip()
    if len(text) < 5:
        raise InvalidInput("state the reason for accessing this person's data (5+ characters)")
    return text


async def provide_console(
    request: Request[Any, Any, Any], db_session: DbSession, services: Services
) -> ConsoleContext:
    console, operator = await current_operator(
        db_session,
        services.keys.tokens,
        services.settings.console,
        request.cookies.get(SESSION_COOKIE),
        client_address(request),
    )
    if request.method not in _SAFE_METHODS:
        check_csrf(services.keys.tokens, console, request.headers.get(CSRF_HEADER))
        # A change reads, then writes: on SQLite, take the write lock first (see begin_writing).
        await begin_writing(db_session)
    return ConsoleContext(
        db=db_session,
        services=services,
        operator=operator,
        session=console,
        method=request.method,
        path=request.url.path,
    )


Console = NamedDependency[ConsoleContext]
