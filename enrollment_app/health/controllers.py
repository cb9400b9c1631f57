"""Liveness and readiness probes for orchestrators and the demo."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from enrollment_app.problems import problem_response
from enrollment_app.state import services_from


class HealthController(Controller):
    tags = ["health"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @get("/healthz", summary="Liveness: the process is up", sync_to_thread=False)
    def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz", summary="Readiness: the database answers and its schema is current")
    async def readyz(self, state: State) -> Response[dict[str, Any]]:
        services = services_from(state)
        try:
            async with services.engine.connect() as conn:
                revision = (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
        except SQLAlchemyError as exc:
            return problem_response(
                503,
                "Service Unavailable",
                f"database not reachable or not migrated ({type(exc).__name__}); "
                "run `optin migrate`",
                "not-ready",
            )
        if revision != services.schema_head:
            return problem_response(
                503,
                "Service Unavailable",
                f"database schema is at {revision}, the code expects {services.schema_head}; "
                "run `optin migrate`",
                "not-ready",
            )
        return Response({"status": "ready", "schema": revision})
