"""Enrollment API: a liveness challenge, then one multipart request that enrolls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, post
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.status_codes import HTTP_201_CREATED

from enrollment_app.enrollment.forms import enrollment_request
from enrollment_app.enrollment.schemas import ChallengeOut, EnrollmentOut
from enrollment_app.state import DbSession, Services
from enrollment_app.uploads import read_memory_form
from optin.errors import MailDeliveryFailed
from optin.services.challenges import FRAMES_REQUESTED, ChallengeSigner
from optin.services.enrollment import MAX_FRAMES, enroll
from optin.services.sign_in import send_sign_in_link

_STRING = Schema(type=OpenAPIType.STRING)
_BINARY = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
ENROLLMENT_BODY = RequestBody(
    required=True,
    description=(
        "multipart/form-data, parsed in memory (photos never touch disk). Either `frames` "
        f"({FRAMES_REQUESTED}-{MAX_FRAMES} camera frames) with the `challenge` token, or one "
        "`photo` (upload fallback). Unknown fields are refused."
    ),
    content={
        "multipart/form-data": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["notice_id", "email", "purposes", "venues", "trip_end"],
                properties={
                    "notice_id": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.UUID),
                    "locale": Schema(type=OpenAPIType.STRING, enum=["ja", "en", "zh", "ko"]),
                    "email": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.EMAIL),
                    "purposes": Schema(
                        type=OpenAPIType.ARRAY,
                        items=Schema(type=OpenAPIType.STRING, enum=["entry", "payment"]),
                    ),
                    "venues": Schema(type=OpenAPIType.ARRAY, items=_STRING),
                    "trip_end": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE),
                    "challenge": _STRING,
                    "photo": _BINARY,
                    "frames": Schema(type=OpenAPIType.ARRAY, items=_BINARY),
                },
            )
        )
    },
)


@dataclass
class EnrollmentOperation(Operation):
    """Documents the multipart body the handler reads itself (see enrollment_app/uploads.py)."""

    def __post_init__(self) -> None:
        self.request_body = ENROLLMENT_BODY


class EnrollmentController(Controller):
    path = "/api/v1"
    tags = ["enrollment"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @post(
        "/liveness/challenges",
        summary="A liveness challenge for the camera step",
        sync_to_thread=False,
    )
    def challenge(self, services: Services) -> ChallengeOut:
        issued = ChallengeSigner(services.keys.master).issue()
        return ChallengeOut(
            challenge=issued.token,
            action=str(issued.action),
            frames=issued.frames,
            interval_ms=issued.interval_ms,
            expires_in=issued.expires_in,
        )

    @post(
        "/enrollments",
        summary="Enroll with explicit consent and a live selfie",
        status_code=HTTP_201_CREATED,
        operation_class=EnrollmentOperation,
    )
    async def enroll(
        self, request: Request[Any, Any, Any], db_session: DbSession, services: Services
    ) -> EnrollmentOut:
        settings = services.settings
        # Before reading the body: each submission costs face detection on every frame.
        services.enrollment_limiter.attempt(request.client.host if request.client else "unknown")
        # Room for the most frames at the largest image size, plus the text fields.
        limit = settings.faces.max_image_bytes * MAX_FRAMES + 64 * 1024
        form = await read_memory_form(request, limit)
        enrollment = enrollment_request(form)
        request.state["locale"] = str(enrollment.locale)
        enrolled = await enroll(db_session, services.keys, settings, enrollment)
        try:
            await send_sign_in_link(
                services.mailer,
                settings,
                enrollment.email,
                enrollment.locale,
                enrolled.sign_in_token,
            )
            mailed = True
        except MailDeliveryFailed:
            # The person is enrolled and holds the recovery code; the page says the mail failed.
            mailed = False
        return EnrollmentOut(
            subject_id=enrolled.subject_id,
            receipt=enrolled.receipt,
            recovery_code=enrolled.recovery_code,
            retention_until=enrolled.retention_until,
            method=str(enrolled.method),
            sign_in_mailed=mailed,
            portal_url=f"{settings.base_url}/portal",
        )
