"""What a venue's gate notice and printed signage show, and the QR code that links them.

Both come from the current published notice, and only when it names the venue: no notice, or
one that does not cover the venue, means no signage (a sign must never announce cameras that no
published notice explains). The notice itself cannot be published with an empty required field
(optin/notices), so everything a sign names (operator, contact point, purposes) is filled in.
The QR code is drawn server-side as inline SVG (segno): no script, no third-party service.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

import segno
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.config import Settings
from optin.db.enums import Language
from optin.db.models import Notice, Venue
from optin.errors import NotFound
from optin.services.notices import current_notices

#: Paper sizes the signage is laid out for (``@page`` in static/signage.css).
SIZES: Final = ("a4", "a3")
#: Error correction M: the code still reads with a smudge or a sticker corner over it.
QR_ERROR: Final = "m"


@dataclass(frozen=True)
class VenueNotice:
    venue: Venue
    notice: Notice
    url: str


def notice_url(settings: Settings, slug: str, language: str) -> str:
    """The public notice page of a venue, in one language: what the sign's QR code opens."""
    return f"{settings.base_url}/venues/{quote(slug)}/notice?lang={language}"


async def venue_notice(
    session: AsyncSession, settings: Settings, slug: str, language: Language
) -> VenueNotice:
    """The venue and the current notice naming it, in ``language``; NotFound otherwise."""
    venue = await session.scalar(select(Venue).where(Venue.slug == slug))
    if venue is None:
        raise NotFound(f"no venue {slug!r}")
    notices = await current_notices(session, language)
    if not notices or str(venue.id) not in notices[0].venue_ids:
        raise NotFound(f"no published notice names the venue {slug!r}")
    return VenueNotice(venue, notices[0], notice_url(settings, slug, language.value))


def qr_matrix(url: str) -> segno.QRCode:
    return segno.make_qr(url, error=QR_ERROR, boost_error=False)


def qr_svg(url: str, title: str) -> str:
    """The QR code for ``url`` as an inline ``<svg>`` element (no XML declaration), scalable."""
    out = io.BytesIO()
    qr_matrix(url).save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        omitsize=True,
        border=4,
        title=title,
        svgclass="qr",
        lineclass=None,
    )
    # role="img" with the <title> as its name: screen readers announce what the code is for.
    return out.getvalue().decode().replace("<svg ", '<svg role="img" ', 1)
