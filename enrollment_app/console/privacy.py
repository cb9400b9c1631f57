"""Privacy officers' console API: the request inbox, and a person's record on a stated reason.

Every look at a person's record and every export is audited with the reason given; an export
(the portal's own document, so the person and the officer see the same thing) is wrapped in a
watermark naming the operator and the time.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, MediaType, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select

from enrollment_app.console.context import Console, ConsoleContext, required_reason
from optin.db.base import utcnow
from optin.db.enums import Purpose, RequestChannel, RequestKind, RequestStatus, SubjectStatus
from optin.db.models import Subject
from optin.errors import Conflict, InvalidInput, NotFound
from optin.services.consents import erase, withdraw
from optin.services.disclosure import build_disclosure
from optin.services.enrollment import normalise_recovery_code
from optin.services.privacy_requests import (
    close,
    describe,
    file_on_behalf,
    get_request,
    link_subject,
    list_requests,
    require_open,
    start,
)
from optin.services.roles import Permission
from optin.services.venues import venue_id_or_none

KindName = Literal["access", "deletion", "correction", "withdrawal", "objection"]
ChannelName = Literal["email", "post", "phone", "in_person"]
Reason = Annotated[str, msgspec.Meta(max_length=500)]


class Lookup(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason
    recovery_code: str | None = None
    subject_id: UUID | None = None


class WithReason(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason
    request_id: UUID | None = None


class WithdrawOnBehalf(msgspec.Struct, forbid_unknown_fields=True):
    reason: Reason
    purpose: Literal["entry", "payment"] | None = None
    venue: str | None = None
    request_id: UUID | None = None


class RequestOnBehalf(msgspec.Struct, forbid_unknown_fields=True):
    kind: KindName
    channel: ChannelName
    details: Annotated[str, msgspec.Meta(max_length=4000)]
    identity_check: Annotated[str, msgspec.Meta(max_length=1000)]
    recovery_code: str | None = None
    subject_id: UUID | None = None


class IdentityIn(msgspec.Struct, forbid_unknown_fields=True):
    identity_check: Annotated[str, msgspec.Meta(max_length=1000)]
    recovery_code: str | None = None
    subject_id: UUID | None = None


class CloseIn(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["completed", "rejected"]
    outcome: Annotated[str, msgspec.Meta(max_length=2000)]


async def _find_subject(
    console: ConsoleContext, recovery_code: str | None, subject_id: UUID | None
) -> Subject:
    """The person a recovery code or id (printed on their receipts) belongs to."""
    if recovery_code:
        digest = console.services.keys.tokens.digest(normalise_recovery_code(recovery_code))
        subject = await console.db.scalar(
            select(Subject).where(Subject.recovery_code_digest == digest)
        )
    elif subject_id:
        subject = await console.db.get(Subject, subject_id)
    else:
        raise InvalidInput("give the person's recovery code or their id from a receipt")
    if subject is None:
        raise NotFound("nobody enrolled matches")
    return subject


async def _active_subject(console: ConsoleContext, subject_id: UUID) -> Subject:
    subject = await console.db.get(Subject, subject_id)
    if subject is None:
        raise NotFound("no such person")
    if subject.status != SubjectStatus.ACTIVE:
        raise Conflict("this person's data has been deleted")
    return subject


async def export_to_browser(
    console: ConsoleContext, subject_id: UUID, reason: str, request_id: UUID | None
) -> Response[bytes]:
    """The person's export inside a watermark (who exported it, when, why, for which request),
    audited with its destination and the SHA-256 of the exact bytes handed over."""
    document = await build_disclosure(
        console.db, console.services.keys, console.services.settings, subject_id
    )
    at = utcnow()
    body = {
        "watermark": {
            "exported_by": console.operator.username,
            "operator_id": str(console.operator.id),
            "exported_at": at.isoformat(),
            "reason": reason,
            "request_id": str(request_id) if request_id else None,
            "notice": "Personal data. Prepared for the person it describes; do not copy or "
            "forward. This export is recorded in the audit log.",
        },
        "disclosure": document,
    }
    content = json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    filename = f"optin-export-{console.operator.username}-{stamp}.json"
    await console.audit(
        "subject.exported",
        subject_id=subject_id,
        reason=reason,
        details={
            "request": str(request_id) if request_id else None,
            "destination": f"browser download {filename}",
            "sha256": hashlib.sha256(content).hexdigest(),
        },
    )
    await console.db.commit()
    return Response(
        content,
        media_type=MediaType.JSON,
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",
        },
    )


class PrivacyController(Controller):
    path = "/api/v1/console"
    tags = ["console"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    # --- people ------------------------------------------------------------------------------

    @post("/subjects/lookup", summary="Find a person by recovery code or id", status_code=200)
    async def lookup(self, console: Console, data: JSONBody[Lookup]) -> dict[str, Any]:
        await console.require(Permission.VIEW_SUBJECTS)
        reason = required_reason(data.reason)
        subject = await _find_subject(console, data.recovery_code, data.subject_id)
        await console.audit("subject.looked_up", subject_id=subject.id, reason=reason)
        await console.db.commit()
        return {"subject_id": str(subject.id), "status": str(subject.status)}

    @get("/subjects/{subject_id:uuid}", summary="A person's record (reason required, audited)")
    async def view(
        self, console: Console, subject_id: FromPath[UUID], reason: FromQuery[str] = ""
    ) -> dict[str, Any]:
        await console.require(Permission.VIEW_SUBJECTS)
        why = required_reason(reason)
        await _active_subject(console, subject_id)
        await console.audit("subject.viewed", subject_id=subject_id, reason=why)
        await console.db.commit()
        return await build_disclosure(
            console.db, console.services.keys, console.services.settings, subject_id
        )

    @post(
        "/subjects/{subject_id:uuid}/export",
        summary="Watermarked export (reason required)",
        status_code=200,
    )
    async def export(
        self, console: Console, subject_id: FromPath[UUID], data: JSONBody[WithReason]
    ) -> Response[bytes]:
        await console.require(Permission.EXPORT_SUBJECTS)
        reason = required_reason(data.reason)
        await _active_subject(console, subject_id)
        return await export_to_browser(console, subject_id, reason, data.request_id)

    @post(
        "/subjects/{subject_id:uuid}/withdraw",
        summary="Withdraw consent for a person",
        status_code=200,
    )
    async def withdraw(
        self, console: Console, subject_id: FromPath[UUID], data: JSONBody[WithdrawOnBehalf]
    ) -> dict[str, Any]:
        await console.require(Permission.CHANGE_SUBJECTS)
        reason = required_reason(data.reason)
        await _active_subject(console, subject_id)
        venue_id = await venue_id_or_none(console.db, data.venue)
        await console.audit(
            "subject.consent_withdrawn",
            subject_id=subject_id,
            reason=reason,
            details={"purpose": data.purpose, "venue": data.venue},
        )
        withdrawn = await withdraw(
            console.db,
            console.services.keys,
            subject_id,
            purpose=Purpose(data.purpose) if data.purpose else None,
            venue_id=venue_id,
        )
        return {"withdrawn": len(withdrawn)}

    @post("/subjects/{subject_id:uuid}/erase", summary="Delete a person's data", status_code=200)
    async def erase(
        self, console: Console, subject_id: FromPath[UUID], data: JSONBody[WithReason]
    ) -> dict[str, Any]:
        await console.require(Permission.CHANGE_SUBJECTS)
        reason = required_reason(data.reason)
        await _active_subject(console, subject_id)
        await console.audit(
            "subject.erased",
            subject_id=subject_id,
            reason=reason,
            details={"request": str(data.request_id) if data.request_id else None},
        )
        await erase(console.db, console.services.keys, subject_id)
        return {"erased": True}

    # --- the request inbox -------------------------------------------------------------------

    @get("/requests", summary="The request inbox, most urgent first, with overdue flags")
    async def inbox(
        self, console: Console, show: FromQuery[Literal["open", "all"]] = "open"
    ) -> list[dict[str, Any]]:
        await console.require(Permission.HANDLE_REQUESTS)
        now = utcnow()
        requests = await list_requests(console.db, open_only=show == "open")
        return [describe(r, now, brief=True) for r in requests]

    @post("/requests", summary="Enter a request received by mail, phone or in person")
    async def file(self, console: Console, data: JSONBody[RequestOnBehalf]) -> dict[str, Any]:
        await console.require(Permission.HANDLE_REQUESTS)
        subject_id = None
        if data.recovery_code or data.subject_id:
            subject_id = (await _find_subject(console, data.recovery_code, data.subject_id)).id
        filed = await file_on_behalf(
            console.db,
            console.services.settings.console,
            console.operator.id,
            subject_id=subject_id,
            kind=RequestKind(data.kind),
            channel=RequestChannel(data.channel),
            details=data.details,
            identity_check=data.identity_check,
        )
        return describe(filed)

    @get("/requests/{request_id:uuid}", summary="One request")
    async def request(self, console: Console, request_id: FromPath[UUID]) -> dict[str, Any]:
        await console.require(Permission.HANDLE_REQUESTS)
        found = await get_request(console.db, request_id)
        # The request text is the person's own words: opening it is an access like any other.
        await console.audit(
            "request.viewed", subject_id=found.subject_id, details={"request": str(found.id)}
        )
        await console.db.commit()
        return describe(found)

    @post(
        "/requests/{request_id:uuid}/verify",
        summary="Record the identity check and tie the request to the person",
        status_code=200,
    )
    async def verify(
        self, console: Console, request_id: FromPath[UUID], data: JSONBody[IdentityIn]
    ) -> dict[str, Any]:
        await console.require(Permission.HANDLE_REQUESTS)
        request = await get_request(console.db, request_id)
        subject = await _find_subject(console, data.recovery_code, data.subject_id)
        linked = await link_subject(
            console.db, request, subject.id, data.identity_check, console.operator.id
        )
        return describe(linked)

    @post("/requests/{request_id:uuid}/start", summary="Mark as in progress", status_code=200)
    async def start(self, console: Console, request_id: FromPath[UUID]) -> dict[str, Any]:
        await console.require(Permission.HANDLE_REQUESTS)
        request = await get_request(console.db, request_id)
        await start(console.db, request, console.operator.id)
        return describe(request)

    @post(
        "/requests/{request_id:uuid}/response-package",
        summary="The person's export for this request, watermarked (audited)",
        status_code=200,
    )
    async def response_package(
        self, console: Console, request_id: FromPath[UUID]
    ) -> Response[bytes]:
        await console.require(Permission.EXPORT_SUBJECTS)
        request = await get_request(console.db, request_id)
        require_open(request)
        if request.subject_id is None or request.verified_at is None:
            raise Conflict("verify the requester's identity before preparing their data")
        await _active_subject(console, request.subject_id)
        reason = f"response to {request.kind} request {request.id}"
        return await export_to_browser(console, request.subject_id, reason, request.id)

    @post("/requests/{request_id:uuid}/close", summary="Close with an outcome", status_code=200)
    async def close(
        self, console: Console, request_id: FromPath[UUID], data: JSONBody[CloseIn]
    ) -> dict[str, Any]:
        await console.require(Permission.HANDLE_REQUESTS)
        request = await get_request(console.db, request_id)
        closed = await close(
            console.db, request, console.operator.id, RequestStatus(data.status), data.outcome
        )
        return describe(closed)
