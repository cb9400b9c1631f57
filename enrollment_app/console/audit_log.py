"""The auditors' view: the audit log, newest first, read only."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.params import FromQuery
from sqlalchemy import select

from enrollment_app.console.context import Console
from optin.db.models import AuditEntry
from optin.services.audit import verify_chain
from optin.services.roles import Permission


class AuditLogController(Controller):
    path = "/api/v1/console/audit"
    tags = ["console"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @get("/", summary="Audit entries, newest first (before_seq pages back)")
    async def entries(
        self,
        console: Console,
        before_seq: FromQuery[int | None] = None,
        limit: FromQuery[int] = 100,
    ) -> list[dict[str, Any]]:
        await console.require(Permission.READ_AUDIT)
        query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(max(1, min(limit, 500)))
        if before_seq is not None:
            query = query.where(AuditEntry.seq < before_seq)
        return [
            {
                "seq": e.seq,
                "occurred_at": e.occurred_at.isoformat(),
                "actor_kind": str(e.actor_kind),
                "actor_id": e.actor_id,
                "action": e.action,
                "subject_ref": e.subject_ref,
                "reason": e.reason,
                "details": e.details,
                "entry_hash": e.entry_hash,
            }
            for e in (await console.db.scalars(query)).all()
        ]

    @get("/verify", summary="Walk the hash chain and check the signed checkpoints")
    async def verify(self, console: Console) -> dict[str, Any]:
        await console.require(Permission.READ_AUDIT)
        report = await verify_chain(console.db, console.services.keys.signer)
        return {**report.as_dict(), "summary": report.summary()}
