"""Turn the enrollment form into a request for the service, refusing anything unexpected."""

from __future__ import annotations

from datetime import date
from typing import Final
from uuid import UUID

from enrollment_app.uploads import MemoryForm
from optin.db.enums import Language, Purpose
from optin.errors import ConsentRequired, InvalidInput
from optin.services.enrollment import EnrollmentRequest

# Anything else is refused by name: no loyalty, membership or other identifier can slip in.
FIELDS: Final = frozenset(
    {"notice_id", "locale", "email", "purposes", "venues", "trip_end", "challenge"}
)
FILES: Final = frozenset({"photo", "frames"})


def enrollment_request(form: MemoryForm) -> EnrollmentRequest:
    unknown = sorted((set(form.fields) - FIELDS) | (set(form.files) - FILES))
    if unknown:
        raise InvalidInput(f"unknown field: {', '.join(unknown)}", reason="unknown-field")
    try:
        notice_id = UUID(form.first("notice_id") or "")
    except ValueError:
        raise InvalidInput("notice_id must name the notice you read", reason="notice") from None
    try:
        locale = Language(form.first("locale") or "en")
    except ValueError:
        raise InvalidInput("locale must be ja, en, zh or ko", reason="locale") from None
    try:
        purposes = [Purpose(p) for p in form.all("purposes")]
    except ValueError:
        raise ConsentRequired("unknown purpose", reason="unknown-purpose") from None
    try:
        trip_end = date.fromisoformat(form.first("trip_end") or "")
    except ValueError:
        raise InvalidInput(
            "trip_end must be a date (YYYY-MM-DD)", reason="invalid-trip-dates"
        ) from None
    photos = form.files.get("photo", [])
    if len(photos) > 1:
        raise InvalidInput("send one photo", reason="several-photos")
    return EnrollmentRequest(
        notice_id=notice_id,
        locale=locale,
        email=form.first("email") or "",
        purposes=purposes,
        venue_slugs=form.all("venues"),
        trip_end=trip_end,
        photo=photos[0].data if photos else None,
        frames=[frame.data for frame in form.files.get("frames", [])],
        challenge=form.first("challenge"),
    )
