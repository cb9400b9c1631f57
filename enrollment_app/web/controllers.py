"""The mobile enrollment page (server-rendered, one page with three steps) and its hint endpoint.

``GET /enroll`` sends the browser to its language (``/ja/enroll`` ...); ``GET /{lang}/enroll``
renders the current notice in full, the consent form (nothing ticked), the camera step and the
done step; ``static/enroll.js`` moves between the steps and talks to the JSON API
(``/api/v1/liveness/challenges``, ``/api/v1/enrollments``). ``POST /api/v1/liveness/hints``
gives live quality hints from one frame.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final
from uuid import UUID

import msgspec
from litestar import Controller, MediaType, Request, get, post
from litestar.exceptions import NotFoundException
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK, HTTP_302_FOUND, HTTP_503_SERVICE_UNAVAILABLE

from enrollment_app.state import DbSession, Services
from enrollment_app.uploads import read_memory_form
from enrollment_app.web.hints import MAX_HINT_BYTES, frame_hint
from optin.config import OperatorSettings
from optin.db.base import utcnow
from optin.db.enums import Language
from optin.db.models import Notice
from optin.errors import InvalidInput
from optin.i18n import HTML_LANG, LANGUAGE_NAMES, SUPPORTED, error_message, messages, negotiate
from optin.i18n import translator as translator_for
from optin.services.notices import current_notices
from optin.services.venues import venues_by_id

STEPS: Final = 3
PURPOSE_LABELS: Final = messages.PURPOSE_NAMES
# What the page's script shows itself; everything the server refuses arrives already translated
# in the problem's ``detail``. Client-side checks use the server's own messages for the same
# refusal, so the person reads the same words either way.
_SCRIPT_MESSAGES: Final = {
    "look": messages.LOOK_STRAIGHT,
    "turn-left": messages.TURN_LEFT,
    "turn-right": messages.TURN_RIGHT,
    "checking": messages.CHECKING,
    "camera-unavailable": messages.CAMERA_UNAVAILABLE,
    "photo-missing": messages.PHOTO_MISSING,
    "try-again": messages.TRY_AGAIN,
    "sign-in-sent": messages.SIGN_IN_LINK_SENT,
    "mail-failed": messages.MAIL_FAILED_NOTE,
    "deletion-date": messages.DELETION_DATE,
}
_SCRIPT_ERRORS: Final = {
    "no-purpose": ("consent-required", "no-purpose"),
    "no-venue": ("consent-required", "no-venue"),
    "invalid-email": ("invalid-input", "invalid-email"),
    "invalid-trip-dates": ("invalid-input", "invalid-trip-dates"),
    "generic": ("error", None),
}
HINT_FIELDS: Final = frozenset({"locale"})
HINT_BODY: Final = RequestBody(
    required=True,
    description="multipart/form-data, parsed in memory: one camera `frame` (JPEG, PNG or WebP, "
    "at most 2 MB and 1 Mpx) and the page's `locale`. Nothing is stored or logged.",
    content={
        "multipart/form-data": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.OBJECT,
                required=["frame"],
                properties={
                    "frame": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY),
                    "locale": Schema(type=OpenAPIType.STRING, enum=list(SUPPORTED)),
                },
            )
        )
    },
)


@dataclass(frozen=True)
class NoticeBlock:
    """One section of a notice body: its heading line, paragraphs and list items, as written."""

    heading: str | None
    lines: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


@dataclass
class HintOperation(Operation):
    """Documents the multipart body the handler reads itself (see enrollment_app/uploads.py)."""

    def __post_init__(self) -> None:
        self.request_body = HINT_BODY


class HintOut(msgspec.Struct):
    hint: str
    message: str
    faces: int


def notice_blocks(body: str) -> list[NoticeBlock]:
    """Split a notice body into sections for display; the text itself is shown unchanged.

    Notice templates (optin/notices/texts) write each section as a heading line followed by its
    text, sections separated by a blank line, list items starting with "- ".
    """
    blocks = []
    for chunk in body.strip().split("\n\n"):
        rows = [row for row in chunk.splitlines() if row.strip()]
        if not rows:
            continue
        heading, rest = (rows[0], rows[1:]) if len(rows) > 1 else (None, rows)
        blocks.append(
            NoticeBlock(
                heading=heading,
                lines=[row for row in rest if not row.startswith("- ")],
                items=[row[2:] for row in rest if row.startswith("- ")],
            )
        )
    return blocks


def base_context(lang: str, operator: OperatorSettings, page: str) -> dict[str, Any]:
    """What the base layout needs on every page: language, switcher links, contact point."""
    return {
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "languages": [
            {"code": code, "name": LANGUAGE_NAMES[code], "tag": HTML_LANG[code]}
            for code in SUPPORTED
        ],
        "page": page,
        "operator": operator,
    }


def _script_config(lang: str) -> dict[str, Any]:
    # Unformatted: the script fills in %(date)s itself.
    raw = translator_for(lang).as_dict(_SCRIPT_MESSAGES.values())
    return {
        "lang": lang,
        "htmlLang": HTML_LANG[lang],
        "messages": {key: raw[msgid] for key, msgid in _SCRIPT_MESSAGES.items()},
        "errors": {
            key: error_message(code, lang, reason=reason)
            for key, (code, reason) in _SCRIPT_ERRORS.items()
        },
        "api": {
            "challenges": "/api/v1/liveness/challenges",
            "hints": "/api/v1/liveness/hints",
            "enrollments": "/api/v1/enrollments",
        },
    }


def _page_headers(lang: str) -> dict[str, str]:
    # no-store: the page names the current notice, and the done step shows a recovery code.
    return {"Content-Language": HTML_LANG[lang], "Cache-Control": "no-store"}


class EnrollPages(Controller):
    include_in_schema = False

    @get("/enroll", status_code=HTTP_302_FOUND, sync_to_thread=False)
    def choose_language(self, request: Request[Any, Any, Any]) -> Redirect:
        """To the page in the browser's language (``?lang=`` wins), e.g. ``/ja/enroll``."""
        lang = negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))
        return Redirect(
            path=f"/{lang}/enroll",
            status_code=HTTP_302_FOUND,
            headers={"Vary": "Accept-Language", "Cache-Control": "no-store"},
        )

    @get("/{lang:str}/enroll", media_type=MediaType.HTML)
    async def enroll_page(
        self, lang: FromPath[str], db_session: DbSession, services: Services
    ) -> Template:
        if lang not in SUPPORTED:
            raise NotFoundException(f"no enrollment page in {lang!r}")
        notices = await current_notices(db_session, Language(lang))
        context = base_context(lang, services.settings.operator, "enroll")
        if not notices:
            # Nothing to consent to yet: say so instead of showing a form that cannot succeed.
            return Template(
                template_name="unavailable.html",
                context=context,
                status_code=HTTP_503_SERVICE_UNAVAILABLE,
                headers=_page_headers(lang),
            )
        notice = notices[0]
        context.update(await _form_context(db_session, services, notice, lang))
        return Template(
            template_name="enroll.html",
            context=context,
            status_code=HTTP_200_OK,
            headers=_page_headers(lang),
        )

    @post(
        "/api/v1/liveness/hints",
        summary="A live quality hint for one camera frame (nothing is stored)",
        status_code=HTTP_200_OK,
        include_in_schema=True,
        tags=["enrollment"],
        operation_class=HintOperation,
    )
    async def hint(self, request: Request[Any, Any, Any], services: Services) -> HintOut:
        """multipart/form-data: ``frame`` (one JPEG, PNG or WebP) and ``locale``; parsed in
        memory like the enrollment, never spooled to disk."""
        form = await read_memory_form(request, MAX_HINT_BYTES + 16 * 1024)
        lang = negotiate(request.headers.get("accept-language"), form.first("locale"))
        request.state["locale"] = lang
        unknown = sorted((set(form.fields) - HINT_FIELDS) | (set(form.files) - {"frame"}))
        frames = form.files.get("frame", [])
        if unknown or len(frames) != 1:
            raise InvalidInput("send one frame (and optionally locale)", reason="unknown-field")
        found, faces = await asyncio.to_thread(frame_hint, frames[0].data, services.settings.faces)
        return HintOut(
            hint=str(found), message=translator_for(lang).gettext(found.msgid), faces=faces
        )


async def _form_context(
    db_session: DbSession, services: Services, notice: Notice, lang: str
) -> dict[str, Any]:
    settings = services.settings
    venue_ids = [UUID(value) for value in notice.venue_ids]
    by_id = {venue.id: venue for venue in await venues_by_id(db_session, venue_ids)}
    today = utcnow().date()
    return {
        "notice": notice,
        "notice_blocks": notice_blocks(notice.body),
        "purposes": [
            {"value": value, "label": translator_for(lang).gettext(PURPOSE_LABELS[value])}
            for value in notice.purposes
            if value in PURPOSE_LABELS
        ],
        # In the notice's order: the person ticks from the list they just read.
        "venues": [by_id[vid] for vid in venue_ids if vid in by_id],
        "today": today.isoformat(),
        "last_trip_day": (today + timedelta(days=settings.enrollment.max_stay_days)).isoformat(),
        "grace_days": settings.enrollment.retention_grace_days,
        "steps": STEPS,
        "portal_url": f"{settings.base_url}/portal",
        "script_config": _script_config(lang),
    }
