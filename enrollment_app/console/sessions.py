"""Who is signed in to the console, from which device, since when; administrators can end a
session (a lost laptop, a colleague who left)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery
from sqlalchemy import select

from enrollment_app.console.context import Console
from optin.db.base import utcnow
from optin.db.models import Operator, OperatorSession
from optin.errors import NotFound
from optin.services.operators import end_session
from optin.services.roles import Permission


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


class SessionsController(Controller):
    path = "/api/v1/console/sessions"
    tags = ["console"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @get("/", summary="Open sessions (and those ended in the last hours) with their devices")
    async def sessions(self, console: Console, hours: FromQuery[int] = 24) -> list[dict[str, Any]]:
        await console.require(Permission.VIEW_SESSIONS)
        now = utcnow()
        since = now - timedelta(hours=max(1, min(hours, 24 * 31)))
        rows = await console.db.execute(
            select(OperatorSession, Operator)
            .join(Operator, Operator.id == OperatorSession.operator_id)
            .where((OperatorSession.ended_at.is_(None)) | (OperatorSession.ended_at >= since))
            .order_by(OperatorSession.created_at.desc())
        )
        idle = timedelta(minutes=console.services.settings.console.idle_minutes)
        listed = []
        for session, operator in rows.all():
            # A session nobody has used since its limit is over, even before a request ends it.
            lapsed = session.expires_at <= now or session.last_seen_at + idle <= now
            open_ = session.ended_at is None and not lapsed
            end = session.ended_at or (now if open_ else min(session.expires_at, now))
            listed.append(
                {
                    "id": str(session.id),
                    "username": operator.username,
                    "role": str(operator.role),
                    "client_address": session.client_address,
                    "user_agent": session.user_agent,
                    "signed_in_at": session.created_at.isoformat(),
                    "elapsed_minutes": round((end - session.created_at).total_seconds() / 60, 1),
                    "last_seen_at": session.last_seen_at.isoformat(),
                    "expires_at": session.expires_at.isoformat(),
                    "open": open_,
                    "ended_at": _iso(session.ended_at),
                    "end_reason": session.end_reason or (None if open_ else "lapsed"),
                    "current": session.id == console.session.id,
                }
            )
        return listed

    @post("/{session_id:uuid}/end", summary="Sign a session out now", status_code=200)
    async def end(self, console: Console, session_id: FromPath[UUID]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_OPERATORS)
        target = await console.db.get(OperatorSession, session_id)
        if target is None:
            raise NotFound("no such session")
        if target.ended_at is None:
            await console.audit("console.session_ended", details={"ended": str(session_id)})
            await end_session(console.db, target, "ended_by_administrator")
        return {"id": str(session_id), "ended_at": _iso(target.ended_at)}
