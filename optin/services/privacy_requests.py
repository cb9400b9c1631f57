"""Requests a person cannot complete alone (correction, objection, ...), with a due date."""

from __future__ import annotations

from datetime import timedelta
from typing import Final
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from optin.db.base import utcnow, uuid7
from optin.db.enums import RequestChannel, RequestKind, RequestStatus
from optin.db.models import PrivacyRequest
from optin.errors import InvalidInput

#: APPI asks for a response "without delay"; GDPR allows one month. We promise the shorter.
DUE_AFTER: Final = timedelta(days=14)
MAX_DETAILS: Final = 4000


async def file_request(
    session: AsyncSession, subject_id: UUID, kind: RequestKind, details: str
) -> PrivacyRequest:
    text = details.strip()
    if not text:
        raise InvalidInput("please describe your request")
    if len(text) > MAX_DETAILS:
        raise InvalidInput(f"please keep the description under {MAX_DETAILS} characters")
    now = utcnow()
    request = PrivacyRequest(
        id=uuid7(),
        subject_id=subject_id,
        kind=kind,
        status=RequestStatus.RECEIVED,
        channel=RequestChannel.PORTAL,
        details=text,
        received_at=now,
        # Signed in through the portal: the requester's identity is already verified.
        verified_at=now,
        due_at=now + DUE_AFTER,
    )
    session.add(request)
    await session.commit()
    return request
