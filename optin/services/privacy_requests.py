"""Privacy requests (access, deletion, correction, withdrawal, objection) and their clocks.

Each request carries two deadlines: ``due_at``, the statutory limit (configurable, e.g. 30 days
for GDPR-style regimes), and ``target_at``, our own shorter target for APPI's "without delay".
Requests arrive from the portal (identity proven by the session) or are entered by an operator
for a person, after an identity check that is recorded with the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.config import ConsoleSettings
from optin.db.base import utcnow, uuid7
from optin.db.enums import ActorKind, RequestChannel, RequestKind, RequestStatus
from optin.db.models import PrivacyRequest
from optin.errors import Conflict, InvalidInput, NotFound
from optin.services.audit import Actor, record

MAX_DETAILS: Final = 4000
OPEN: Final = frozenset({RequestStatus.RECEIVED, RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS})
CLOSING: Final = frozenset({RequestStatus.COMPLETED, RequestStatus.REJECTED})


def _clean(text: str, what: str, limit: int = MAX_DETAILS) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput(f"please describe {what}")
    if len(cleaned) > limit:
        raise InvalidInput(f"please keep {what} under {limit} characters")
    return cleaned


def _new_request(
    settings: ConsoleSettings,
    subject_id: UUID | None,
    kind: RequestKind,
    channel: RequestChannel,
    details: str,
    now: datetime,
) -> PrivacyRequest:
    return PrivacyRequest(
        id=uuid7(),
        subject_id=subject_id,
        kind=kind,
        status=RequestStatus.RECEIVED,
        channel=channel,
        details=details,
        received_at=now,
        due_at=now + timedelta(days=settings.request_due_days),
        target_at=now + timedelta(days=settings.request_target_days),
    )


async def file_request(
    session: AsyncSession,
    subject_id: UUID,
    kind: RequestKind,
    details: str,
    settings: ConsoleSettings | None = None,
) -> PrivacyRequest:
    """A request from the portal; the signed-in session already proved who is asking."""
    now = utcnow()
    request = _new_request(
        settings or ConsoleSettings(),
        subject_id,
        kind,
        RequestChannel.PORTAL,
        _clean(details, "your request"),
        now,
    )
    request.status = RequestStatus.VERIFIED
    request.verified_at = now
    request.identity_check = "signed in to the portal"
    session.add(request)
    await record(
        session,
        Actor(ActorKind.SUBJECT, str(subject_id)),
        "request.filed",
        subject_id=subject_id,
        details={"request": str(request.id), "kind": str(kind)},
    )
    await session.commit()
    return request


async def file_on_behalf(
    session: AsyncSession,
    settings: ConsoleSettings,
    operator_id: UUID,
    *,
    subject_id: UUID | None,
    kind: RequestKind,
    channel: RequestChannel,
    details: str,
    identity_check: str,
) -> PrivacyRequest:
    """A request taken by phone, mail or in person. The identity check (what was seen, e.g.
    "passport checked at the desk; recovery code matched") is required and recorded."""
    if channel == RequestChannel.PORTAL:
        raise InvalidInput("portal requests are filed by the person themselves")
    now = utcnow()
    request = _new_request(settings, subject_id, kind, channel, _clean(details, "the request"), now)
    request.identity_check = _clean(identity_check, "how the identity was checked", 1000)
    if subject_id is not None:
        request.status = RequestStatus.VERIFIED
        request.verified_at = now
        request.verified_by = operator_id
    session.add(request)
    await record(
        session,
        Actor.operator(operator_id),
        "request.filed_on_behalf",
        subject_id=subject_id,
        details={"request": str(request.id), "kind": str(kind), "channel": str(channel)},
    )
    await session.commit()
    return request


@dataclass(frozen=True)
class Clock:
    """Where a request stands against its deadlines at ``now``."""

    overdue: bool
    past_target: bool
    days_left: float

    @classmethod
    def of(cls, request: PrivacyRequest, now: datetime) -> Clock:
        open_ = request.status in OPEN
        target = request.target_at or request.due_at
        return cls(
            overdue=open_ and now > request.due_at,
            past_target=open_ and now > target,
            days_left=round((request.due_at - now).total_seconds() / 86400, 1),
        )


def describe(
    request: PrivacyRequest, now: datetime | None = None, *, brief: bool = False
) -> dict[str, Any]:
    """The request as the console shows it; ``brief`` (the inbox) leaves out the person's own
    words and the identity check, which are shown only when one request is opened."""
    clock = Clock.of(request, now or utcnow())

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(request.id),
        "subject_id": str(request.subject_id) if request.subject_id else None,
        "kind": str(request.kind),
        "status": str(request.status),
        "channel": str(request.channel),
        "details": request.details,
        "identity_check": request.identity_check,
        "received_at": iso(request.received_at),
        "verified_at": iso(request.verified_at),
        "target_at": iso(request.target_at),
        "due_at": iso(request.due_at),
        "closed_at": iso(request.closed_at),
        "outcome": request.outcome,
        "overdue": clock.overdue,
        "past_target": clock.past_target,
        "days_left": clock.days_left,
    } | ({"details": None, "identity_check": None} if brief else {})


async def list_requests(session: AsyncSession, *, open_only: bool) -> Sequence[PrivacyRequest]:
    """The inbox, most urgent first."""
    query = select(PrivacyRequest).order_by(PrivacyRequest.due_at, PrivacyRequest.received_at)
    if open_only:
        query = query.where(PrivacyRequest.status.in_(OPEN))
    return (await session.scalars(query)).all()


async def get_request(session: AsyncSession, request_id: UUID) -> PrivacyRequest:
    request = await session.get(PrivacyRequest, request_id)
    if request is None:
        raise NotFound("no such request")
    return request


def require_open(request: PrivacyRequest) -> None:
    if request.status not in OPEN:
        raise Conflict(f"this request is closed already ({request.status})")


async def link_subject(
    session: AsyncSession,
    request: PrivacyRequest,
    subject_id: UUID,
    identity_check: str,
    operator_id: UUID,
) -> PrivacyRequest:
    """Tie a request to the person it is about, once their identity has been checked."""
    require_open(request)
    request.subject_id = subject_id
    request.identity_check = _clean(identity_check, "how the identity was checked", 1000)
    request.verified_at = utcnow()
    request.verified_by = operator_id
    if request.status == RequestStatus.RECEIVED:
        request.status = RequestStatus.VERIFIED
    await record(
        session,
        Actor.operator(operator_id),
        "request.identity_verified",
        subject_id=subject_id,
        details={"request": str(request.id)},
    )
    await session.commit()
    return request


async def start(session: AsyncSession, request: PrivacyRequest, operator_id: UUID) -> None:
    require_open(request)
    request.status = RequestStatus.IN_PROGRESS
    request.handled_by = operator_id
    await record(
        session,
        Actor.operator(operator_id),
        "request.started",
        subject_id=request.subject_id,
        details={"request": str(request.id)},
    )
    await session.commit()


async def close(
    session: AsyncSession,
    request: PrivacyRequest,
    operator_id: UUID,
    status: RequestStatus,
    outcome: str,
) -> PrivacyRequest:
    require_open(request)
    if status not in CLOSING:
        raise InvalidInput("close a request as completed or rejected")
    if status == RequestStatus.COMPLETED and request.verified_at is None:
        raise Conflict("verify the requester's identity before completing the request")
    request.status = status
    request.outcome = _clean(outcome, "the outcome", 2000)
    request.closed_at = utcnow()
    request.handled_by = operator_id
    await record(
        session,
        Actor.operator(operator_id),
        "request.closed",
        subject_id=request.subject_id,
        details={"request": str(request.id), "status": str(status)},
    )
    await session.commit()
    return request
