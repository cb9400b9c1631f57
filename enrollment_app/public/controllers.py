"""Public API: current notices, venues, the receipt-signing key and receipt verification."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import JSONBody, Parameter

from enrollment_app.public.schemas import Jwks, NoticeOut, ReceiptVerification, VenueOut
from enrollment_app.state import DbSession, Services
from optin.db.enums import Language
from optin.services.notices import current_notices
from optin.services.receipts import check_receipt
from optin.services.venues import list_venues, venues_by_id


class PublicController(Controller):
    tags = ["public"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @get("/api/v1/notices", summary="The current privacy notice, per language")
    async def notices(
        self,
        db_session: DbSession,
        language: Language | None = Parameter(default=None, description="ja, en, zh or ko"),
    ) -> list[NoticeOut]:
        notices = await current_notices(db_session, language)
        venue_ids = {UUID(venue_id) for notice in notices for venue_id in notice.venue_ids}
        slugs = {
            str(venue.id): venue.slug for venue in await venues_by_id(db_session, list(venue_ids))
        }
        return [
            NoticeOut(
                id=notice.id,
                version=notice.version,
                language=str(notice.language),
                purposes=list(notice.purposes),
                venues=[slugs[v] for v in notice.venue_ids if v in slugs],
                title=notice.title,
                body=notice.body,
                text_sha256=notice.text_sha256,
                effective_at=notice.effective_at,
            )
            for notice in notices
        ]

    @get("/api/v1/venues", summary="Venues taking part")
    async def venues(self, db_session: DbSession) -> list[VenueOut]:
        return [
            VenueOut(slug=venue.slug, name=venue.name, timezone=venue.timezone)
            for venue in await list_venues(db_session)
        ]

    @get(
        "/.well-known/jwks.json",
        summary="Public key that signs consent receipts",
        sync_to_thread=False,
    )
    def jwks(self, services: Services) -> Jwks:
        return Jwks(keys=[services.keys.signer.public_jwk()])

    @post(
        "/api/v1/receipts/verify",
        summary="Tell whether a consent receipt is genuine and unchanged",
        status_code=200,
        sync_to_thread=False,
    )
    def verify_receipt(
        self, data: JSONBody[dict[str, Any]], services: Services
    ) -> ReceiptVerification:
        check = check_receipt(data, services.keys.signer.verifier)
        return ReceiptVerification(valid=check.valid, reason=check.reason, kid=check.kid)
