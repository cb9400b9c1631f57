"""Enrollment: explicit consent on the current notice, a live face, an encrypted template.

Rules enforced here, whatever the client does:
- consent is explicit: at least one purpose and one venue, each covered by the notice cited,
  and that notice must be the current one (an outdated notice is refused);
- the face passes the quality gate (and, from the camera, the liveness challenge);
- a face already enrolled is not enrolled twice, and the requester learns nothing about the
  other record;
- the photo and frames exist only in memory and are dropped once the template exists;
- nothing is written unless everything passed (one transaction).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from uuid import UUID

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession

from optin import faces
from optin.config import Settings
from optin.db.base import utcnow, uuid7
from optin.db.engine import begin_writing
from optin.db.enums import ChangeAction, EnrollmentMethod, Language, Purpose
from optin.db.models import Consent, SignInLink
from optin.errors import (
    AlreadyEnrolled,
    ConsentRequired,
    InvalidInput,
    LivenessFailed,
)
from optin.faces.liveness import judge
from optin.runtime import Keys
from optin.services.challenges import ChallengeSigner
from optin.services.entitlements import grant_enrollment_entitlements
from optin.services.gallery import changes, record_change
from optin.services.notices import require_current
from optin.services.receipts import build_consent_receipt
from optin.services.sign_in import SIGN_IN_PREFIX, SIGN_IN_TTL
from optin.services.subjects import create_subject
from optin.services.templates import active_gallery, add_template
from optin.services.venues import venues_by_slug

CONSENT_METHOD: Final = "web-checkbox"
MAX_FRAMES: Final = 12
# 20 characters of Crockford-style base32 (100 bits), grouped for writing down.
_RECOVERY_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class EnrollmentRequest:
    notice_id: UUID
    locale: Language
    email: str
    purposes: Sequence[Purpose]
    venue_slugs: Sequence[str]
    trip_end: date
    photo: bytes | None = field(default=None, repr=False)
    frames: Sequence[bytes] = field(default=(), repr=False)
    challenge: str | None = None


@dataclass(frozen=True)
class Enrolled:
    subject_id: UUID
    receipt: dict[str, Any]
    recovery_code: str = field(repr=False)
    sign_in_token: str = field(repr=False)
    retention_until: datetime
    method: EnrollmentMethod


def normalise_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(20))
    return "-".join(raw[i : i + 5] for i in range(0, 20, 5))


def _check_email(email: str) -> str:
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError:
        raise InvalidInput("the email address is not valid", reason="invalid-email") from None


def _retention(settings: Settings, trip_end: date, today: date) -> datetime:
    if trip_end < today:
        raise InvalidInput("the trip end date is in the past", reason="invalid-trip-dates")
    if trip_end > today + timedelta(days=settings.enrollment.max_stay_days):
        raise InvalidInput(
            f"stays longer than {settings.enrollment.max_stay_days} days cannot be enrolled",
            reason="invalid-trip-dates",
        )
    end_of_trip = datetime.combine(trip_end, time.max, tzinfo=UTC)
    return end_of_trip + timedelta(days=settings.enrollment.retention_grace_days)


def _face_from_request(
    request: EnrollmentRequest, settings: Settings, challenges: ChallengeSigner
) -> tuple[faces.Embedding, EnrollmentMethod]:
    """Blocking face work (run in a thread): liveness when frames are given, else the upload."""
    if request.frames:
        if request.challenge is None:
            raise LivenessFailed("camera frames need a liveness challenge", reason="bad-challenge")
        action = challenges.action_of(request.challenge)
        if len(request.frames) > MAX_FRAMES:
            raise InvalidInput(f"at most {MAX_FRAMES} frames")
        images = [faces.load_image(frame, settings.faces) for frame in request.frames]
        verdict = judge(images, action, settings.faces)
        if not verdict.passed or verdict.best_frame is None:
            raise LivenessFailed(verdict.message, reason=verdict.reason)
        face = faces.enrollment_template(images[verdict.best_frame], settings.faces)
        return face.embedding, EnrollmentMethod.CAMERA_LIVENESS
    if request.photo is None:
        raise InvalidInput("a selfie is required", reason="no-face")
    face = faces.enrollment_template(request.photo, settings.faces)
    return face.embedding, EnrollmentMethod.PHOTO_UPLOAD


async def enroll(
    session: AsyncSession, keys: Keys, settings: Settings, request: EnrollmentRequest
) -> Enrolled:
    """Enroll one person (commits). Raises a domain error, and writes nothing, on any refusal."""
    purposes = list(dict.fromkeys(request.purposes))
    if not purposes:
        raise ConsentRequired("tick at least one purpose you agree to", reason="no-purpose")
    if not request.venue_slugs:
        raise ConsentRequired("choose at least one venue", reason="no-venue")
    email = _check_email(request.email)
    now = utcnow()
    retention_until = _retention(settings, request.trip_end, now.date())
    notice = await require_current(session, request.notice_id)
    uncovered = [p for p in purposes if p.value not in notice.purposes]
    if uncovered:
        raise ConsentRequired(
            "the notice does not cover: " + ", ".join(p.value for p in uncovered),
            reason="purpose-not-in-notice",
        )
    venues = await venues_by_slug(session, request.venue_slugs)
    unnamed = [v.slug for v in venues if str(v.id) not in notice.venue_ids]
    if unnamed:
        raise ConsentRequired(
            "the notice does not name: " + ", ".join(unnamed), reason="venue-not-in-notice"
        )

    # No transaction open through the face work (about a second of CPU): on SQLite a read begun
    # before it could not turn into a write once anyone else committed meanwhile ("database is
    # locked"), and on PostgreSQL it would hold a pooled connection idle in transaction.
    await session.commit()
    embedding, method = await asyncio.to_thread(
        _face_from_request, request, settings, ChallengeSigner(keys.master)
    )
    # The duplicate check and the insert are one writer's transaction (BEGIN IMMEDIATE on
    # SQLite: two enrollments of one face cannot both pass the check), and the notice must
    # still be the current one when the consent is written.
    await begin_writing(session)
    notice = await require_current(session, request.notice_id)
    gallery, _owners = await active_gallery(session, keys.subjects)
    hit = gallery.nearest(embedding)
    if hit is not None and faces.is_match(hit.distance, settings.faces.match_threshold):
        raise AlreadyEnrolled(
            "this face is enrolled already; sign in to the portal with your link or recovery code"
        )

    subject = await create_subject(
        session,
        keys.subjects,
        locale=request.locale,
        retention_until=retention_until,
        contact=email,
    )
    subject.enrollment_method = method
    recovery_code = new_recovery_code()
    subject.recovery_code_digest = keys.tokens.digest(normalise_recovery_code(recovery_code))
    await add_template(session, keys.subjects, subject.id, embedding)
    session.add_all(
        Consent(
            id=uuid7(),
            subject_id=subject.id,
            purpose=purpose,
            venue_id=venue.id,
            notice_id=notice.id,
            notice_version=notice.version,
            notice_language=notice.language,
            notice_sha256=notice.text_sha256,
            granted_at=now,
            method=CONSENT_METHOD,
        )
        for purpose in purposes
        for venue in venues
    )
    sign_in = keys.tokens.issue(SIGN_IN_PREFIX)
    session.add(
        SignInLink(
            id=uuid7(),
            subject_id=subject.id,
            token_digest=sign_in.digest,
            expires_at=now + SIGN_IN_TTL,
        )
    )
    if Purpose.ENTRY in purposes:
        trip_end = retention_until - timedelta(days=settings.enrollment.retention_grace_days)
        await grant_enrollment_entitlements(session, subject.id, venues, now, trip_end)
    await record_change(session, keys.master, venues, subject.id, ChangeAction.ADD)
    receipt = build_consent_receipt(
        settings=settings,
        master_keys=keys.master,
        signer=keys.signer,
        subject_id=subject.id,
        notice=notice,
        purposes=[p.value for p in purposes],
        venues=venues,
        granted_at=now,
        retention_until=retention_until,
    )
    await session.commit()
    changes.notify(venue.id for venue in venues)
    return Enrolled(
        subject_id=subject.id,
        receipt=receipt,
        recovery_code=recovery_code,
        sign_in_token=sign_in.plaintext,
        retention_until=retention_until,
        method=method,
    )
