"""A venue's public gate notice and its printable sign (BRIEF checks 14, 17 and 34).

- ``GET /venues/{slug}/notice?lang=`` (or ``/{lang}/venues/{slug}/notice``, which the language
  switcher links to): the current notice naming the venue, in full, under a short summary.
- ``GET /venues/{slug}/signage?lang=&size=a4|a3``: one print-ready sheet (``@page`` in
  static/signage.css) naming the operator, the purposes here, what happens to faces of people
  who did not enrol, the camera-free lane, retention, the contact point, and a QR code (inline
  SVG drawn on the server) that opens the notice page in the same language.

Both refuse (404) without a published notice naming the venue. The pages load nothing but their
own stylesheet, which their Content-Security-Policy enforces.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, MediaType, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK

from enrollment_app.state import DbSession, Services
from enrollment_app.web.controllers import base_context, notice_blocks
from optin.db.enums import Language
from optin.errors import NotFound
from optin.i18n import HTML_LANG, SUPPORTED, messages, negotiate
from optin.i18n import translator as translator_for
from optin.services.signage import SIZES, VenueNotice, qr_svg, venue_notice

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
_LIST_SEPARATOR: Final = {"ja": "、", "zh": "、", "en": ", ", "ko": ", "}


def _headers(lang: str) -> dict[str, str]:
    return {
        "Content-Language": HTML_LANG[lang],
        # A new notice version changes what the pages say: never serve an old one.
        "Cache-Control": "no-cache",
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
    }


async def _load(db_session: DbSession, services: Services, slug: str, lang: str) -> VenueNotice:
    try:
        return await venue_notice(db_session, services.settings, slug, Language(lang))
    except NotFound as exc:
        raise NotFoundException(str(exc)) from None


def _context(services: Services, found: VenueNotice, lang: str, page: str) -> dict[str, Any]:
    t = translator_for(lang)
    venue = found.venue.name
    context = base_context(lang, services.settings.operator, page)
    context.update(
        venue=found.venue,
        notice=found.notice,
        notice_url=found.url,
        purposes=_LIST_SEPARATOR[lang].join(
            t.gettext(messages.PURPOSE_NAMES[value])
            for value in found.notice.purposes
            if value in messages.PURPOSE_NAMES
        ),
        grace_days=services.settings.enrollment.retention_grace_days,
        qr=qr_svg(found.url, t.gettext(messages.SIGN_QR_TITLE, venue=venue)),
        signage_url=f"/venues/{found.venue.slug}/signage?lang={lang}&size=a4",
    )
    return context


class SignagePages(Controller):
    include_in_schema = False

    @get("/venues/{slug:str}/notice", media_type=MediaType.HTML)
    async def notice(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        db_session: DbSession,
        services: Services,
    ) -> Template:
        lang = negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))
        return await self._notice(db_session, services, slug, lang)

    @get("/{lang:str}/venues/{slug:str}/notice", media_type=MediaType.HTML)
    async def notice_in(
        self, lang: FromPath[str], slug: FromPath[str], db_session: DbSession, services: Services
    ) -> Template:
        if lang not in SUPPORTED:
            raise NotFoundException(f"no notice page in {lang!r}")
        return await self._notice(db_session, services, slug, lang)

    @get("/venues/{slug:str}/signage", media_type=MediaType.HTML)
    async def signage(
        self,
        request: Request[Any, Any, Any],
        slug: FromPath[str],
        db_session: DbSession,
        services: Services,
    ) -> Template:
        lang = negotiate(request.headers.get("accept-language"), request.query_params.get("lang"))
        size = request.query_params.get("size", "a4").lower()
        if size not in SIZES:
            raise NotFoundException(f"signage comes in {', '.join(SIZES)}, not {size!r}")
        found = await _load(db_session, services, slug, lang)
        context = _context(services, found, lang, f"venues/{slug}/notice")
        context["size"] = size
        return Template(
            template_name="signage.html",
            context=context,
            status_code=HTTP_200_OK,
            headers=_headers(lang),
        )

    async def _notice(
        self, db_session: DbSession, services: Services, slug: str, lang: str
    ) -> Template:
        found = await _load(db_session, services, slug, lang)
        context = _context(services, found, lang, f"venues/{slug}/notice")
        context["notice_blocks"] = notice_blocks(found.notice.body)
        return Template(
            template_name="venue_notice.html",
            context=context,
            status_code=HTTP_200_OK,
            headers=_headers(lang),
        )
