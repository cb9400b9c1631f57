"""Self-service portal API: sign in, see and export everything, withdraw, renew, shorten, delete.

Sessions ride on an HttpOnly, SameSite=Strict cookie; every change also needs the session's
CSRF token in the ``X-CSRF-Token`` header (the page reads it from the ``optin_csrf`` cookie).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar import delete as delete_route
from litestar.datastructures import Cookie
from litestar.params import JSONBody

from enrollment_app.state import AppServices, DbSession, Services
from optin.db.base import utcnow
from optin.db.engine import begin_writing
from optin.db.enums import Purpose, RequestKind
from optin.db.models import PortalSession
from optin.errors import InvalidInput
from optin.services.consents import erase, withdraw
from optin.services.disclosure import build_disclosure, disclosure_schema
from optin.services.payment_methods import add_payment_method, remove_payment_method
from optin.services.payment_pins import set_pin
from optin.services.portal_sessions import (
    check_csrf,
    current_session,
    sign_in_with_link,
    sign_in_with_recovery_code,
    sign_out,
)
from optin.services.privacy_requests import file_request
from optin.services.provisions import set_provision_consent
from optin.services.receipts import build_action_receipt
from optin.services.renewal import renew_consent
from optin.services.retention import shorten_retention
from optin.services.venues import venue_id_or_none, venues_by_id

SESSION_COOKIE = "optin_session"
CSRF_COOKIE = "optin_csrf"


class SignIn(msgspec.Struct, forbid_unknown_fields=True):
    token: str | None = None
    recovery_code: str | None = None


class SignedInOut(msgspec.Struct):
    csrf_token: str
    expires_at: str


class Withdrawal(msgspec.Struct, forbid_unknown_fields=True):
    purpose: Literal["entry", "payment"] | None = None
    venue: str | None = None


class Renewal(msgspec.Struct, forbid_unknown_fields=True):
    purpose: Literal["entry", "payment"]
    notice_id: UUID
    venue: str | None = None


class Shorten(msgspec.Struct, forbid_unknown_fields=True):
    retention_until: date


class RequestIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["correction", "objection", "access", "deletion", "withdrawal"]
    details: Annotated[str, msgspec.Meta(max_length=4000)]


class PinIn(msgspec.Struct, forbid_unknown_fields=True):
    pin: Annotated[str, msgspec.Meta(max_length=16)]


class ProvisionConsentIn(msgspec.Struct, forbid_unknown_fields=True):
    recipient_id: UUID
    # True: agree to provision to this recipient; False: withdraw that agreement.
    consent: bool


class PaymentMethodIn(msgspec.Struct, forbid_unknown_fields=True):
    # The provider's token from the page; a card number has no field here and is refused.
    token: Annotated[str, msgspec.Meta(max_length=200)]


def _cookies(services: AppServices, session_token: str, csrf: str) -> list[Cookie]:
    secure = services.settings.base_url.startswith("https://")
    common: dict[str, Any] = {"path": "/", "samesite": "strict", "secure": secure}
    return [
        Cookie(key=SESSION_COOKIE, value=session_token, httponly=True, **common),
        Cookie(key=CSRF_COOKIE, value=csrf, httponly=False, **common),
    ]


def _ended() -> list[Cookie]:
    return [
        Cookie(key=name, value="", max_age=0, path="/") for name in (SESSION_COOKIE, CSRF_COOKIE)
    ]


def _signed_receipt(
    services: AppServices, subject_id: UUID, kind: str, details: dict[str, Any]
) -> dict[str, Any]:
    return build_action_receipt(
        settings=services.settings,
        master_keys=services.keys.master,
        signer=services.keys.signer,
        subject_id=subject_id,
        kind=kind,
        details=details,
        at=utcnow(),
    )


async def _signed_in(
    request: Request[Any, Any, Any], db_session: DbSession, services: Services, *, change: bool
) -> PortalSession:
    portal = await current_session(
        db_session, services.keys.tokens, request.cookies.get(SESSION_COOKIE)
    )
    if change:
        check_csrf(services.keys.tokens, portal, request.headers.get("x-csrf-token"))
        # A change reads, then writes: on SQLite, take the write lock first (see begin_writing).
        await begin_writing(db_session)
    return portal


async def _remove_payment_method(
    request: Request[Any, Any, Any], db_session: DbSession, services: Services
) -> dict[str, Any]:
    portal = await _signed_in(request, db_session, services, change=True)
    method = await remove_payment_method(db_session, portal.subject_id)
    return {"removed": True, "label": method.label}


class PortalController(Controller):
    path = "/api/v1/portal"
    tags = ["portal"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @post("/sign-in", summary="Sign in with the mailed link's token or the recovery code")
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[SignIn],
        db_session: DbSession,
        services: Services,
    ) -> Response[SignedInOut]:
        tokens = services.keys.tokens
        if data.token:
            signed = await sign_in_with_link(db_session, tokens, data.token)
        elif data.recovery_code:
            client = request.client.host if request.client else "unknown"
            signed = await sign_in_with_recovery_code(
                db_session, tokens, data.recovery_code, client, services.recovery_limiter
            )
        else:
            raise InvalidInput("send the sign-in token or your recovery code")
        return Response(
            SignedInOut(csrf_token=signed.csrf, expires_at=signed.session.expires_at.isoformat()),
            status_code=200,
            cookies=_cookies(services, signed.cookie, signed.csrf),
        )

    @post("/sign-out", summary="End the session", status_code=200)
    async def sign_out(
        self, request: Request[Any, Any, Any], db_session: DbSession, services: Services
    ) -> Response[dict[str, bool]]:
        portal = await _signed_in(request, db_session, services, change=True)
        await sign_out(db_session, portal)
        return Response({"signed_out": True}, cookies=_ended())

    @get("/me", summary="Everything held about you (disclosure)")
    async def me(
        self, request: Request[Any, Any, Any], db_session: DbSession, services: Services
    ) -> dict[str, Any]:
        portal = await _signed_in(request, db_session, services, change=False)
        return await build_disclosure(
            db_session, services.keys, services.settings, portal.subject_id
        )

    @get("/export", summary="Download everything held about you as JSON")
    async def export(
        self, request: Request[Any, Any, Any], db_session: DbSession, services: Services
    ) -> Response[dict[str, Any]]:
        portal = await _signed_in(request, db_session, services, change=False)
        document = await build_disclosure(
            db_session, services.keys, services.settings, portal.subject_id
        )
        stamp = utcnow().strftime("%Y%m%d")
        return Response(
            document,
            headers={
                "content-disposition": f'attachment; filename="optin-my-data-{stamp}.json"',
                "cache-control": "no-store",
            },
        )

    @get("/export.schema.json", summary="JSON Schema of the export", sync_to_thread=False)
    def schema(self) -> dict[str, Any]:
        return disclosure_schema()

    @post(
        "/withdraw", summary="Withdraw consent (per purpose and/or venue, or all)", status_code=200
    )
    async def withdraw(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Withdrawal],
        db_session: DbSession,
        services: Services,
    ) -> dict[str, Any]:
        portal = await _signed_in(request, db_session, services, change=True)
        withdrawn = await withdraw(
            db_session,
            services.keys,
            portal.subject_id,
            purpose=Purpose(data.purpose) if data.purpose else None,
            venue_id=await venue_id_or_none(db_session, data.venue),
        )
        affected = await venues_by_id(db_session, list({c.venue_id for c in withdrawn}))
        slugs = {v.id: v.slug for v in affected}
        return _signed_receipt(
            services,
            portal.subject_id,
            "withdrawal",
            {
                "withdrawn": [
                    {"purpose": str(c.purpose), "venue": slugs[c.venue_id]} for c in withdrawn
                ]
            },
        )

    @post(
        "/renew",
        summary="Consent again, on the current notice, to a purpose whose meaning changed",
        status_code=200,
    )
    async def renew(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Renewal],
        db_session: DbSession,
        services: Services,
    ) -> dict[str, Any]:
        portal = await _signed_in(request, db_session, services, change=True)
        renewed = await renew_consent(
            db_session,
            services.keys,
            portal.subject_id,
            Purpose(data.purpose),
            await venue_id_or_none(db_session, data.venue),
            data.notice_id,
        )
        affected = await venues_by_id(db_session, list({c.venue_id for c in renewed}))
        slugs = {v.id: v.slug for v in affected}
        first = renewed[0]
        return _signed_receipt(
            services,
            portal.subject_id,
            "renewal",
            {
                "renewed": [
                    {"purpose": str(c.purpose), "venue": slugs[c.venue_id]} for c in renewed
                ],
                # The exact text agreed to, as on a consent receipt.
                "notice": {
                    "id": str(first.notice_id),
                    "version": first.notice_version,
                    "language": str(first.notice_language),
                    "sha256": first.notice_sha256,
                },
                "granted_at": first.granted_at.isoformat(),
            },
        )

    @post("/retention", summary="Bring your deletion date forward", status_code=200)
    async def retention(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[Shorten],
        db_session: DbSession,
        services: Services,
    ) -> dict[str, str]:
        portal = await _signed_in(request, db_session, services, change=True)
        until = await shorten_retention(db_session, portal.subject_id, data.retention_until)
        return {"retention_until": until.isoformat()}

    @post("/requests", summary="Ask the privacy team for something the portal cannot do")
    async def requests(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RequestIn],
        db_session: DbSession,
        services: Services,
    ) -> dict[str, str]:
        portal = await _signed_in(request, db_session, services, change=True)
        filed = await file_request(
            db_session,
            portal.subject_id,
            RequestKind(data.kind),
            data.details,
            services.settings.console,
        )
        return {
            "id": str(filed.id),
            "status": str(filed.status),
            "due_at": filed.due_at.isoformat(),
        }

    @post("/delete", summary="Delete all your data", status_code=200)
    async def delete(
        self, request: Request[Any, Any, Any], db_session: DbSession, services: Services
    ) -> Response[dict[str, Any]]:
        portal = await _signed_in(request, db_session, services, change=True)
        subject_id: UUID = portal.subject_id
        await erase(db_session, services.keys, subject_id)
        receipt = _signed_receipt(
            services,
            subject_id,
            "deletion",
            {
                "deleted": "face template (data key destroyed), contact, entitlements, sign-in "
                "data; consents marked withdrawn; gate events kept without you",
            },
        )
        return Response(receipt, cookies=_ended())

    @post(
        "/provision-consents",
        summary="Agree to, or withdraw from, provision of your data to one named recipient",
        status_code=200,
    )
    async def provision_consent(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ProvisionConsentIn],
        db_session: DbSession,
        services: Services,
    ) -> dict[str, Any]:
        portal = await _signed_in(request, db_session, services, change=True)
        recipient, consent = await set_provision_consent(
            db_session,
            portal.subject_id,
            data.recipient_id,
            consent=data.consent,
            journal=services.keys.erasures,
        )
        return _signed_receipt(
            services,
            portal.subject_id,
            "provision-consent" if data.consent else "provision-withdrawal",
            {
                "recipient": {"id": str(recipient.id), "name": recipient.name},
                "purpose": recipient.purpose,
                "items": list(recipient.items),
                "granted_at": consent.granted_at.isoformat(),
                "withdrawn_at": consent.withdrawn_at.isoformat() if consent.withdrawn_at else None,
            },
        )

    @post("/pin", summary="Set or change your payment PIN (4 to 6 digits)", status_code=200)
    async def pin(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PinIn],
        db_session: DbSession,
        services: Services,
    ) -> dict[str, bool]:
        portal = await _signed_in(request, db_session, services, change=True)
        await set_pin(db_session, portal.subject_id, data.pin)
        return {"pin_set": True}

    @post(
        "/payment-method",
        summary="Keep a card for payment by face: the provider's token, never the number",
        status_code=200,
    )
    async def payment_method(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PaymentMethodIn],
        db_session: DbSession,
        services: Services,
    ) -> dict[str, str]:
        portal = await _signed_in(request, db_session, services, change=True)
        method = await add_payment_method(
            db_session,
            services.keys.subjects,
            services.payment_provider(),
            portal.subject_id,
            data.token,
        )
        return {"label": method.label, "added_at": method.created_at.isoformat()}

    @delete_route("/payment-method", summary="Remove your card", status_code=200)
    async def delete_payment_method(
        self, request: Request[Any, Any, Any], db_session: DbSession, services: Services
    ) -> dict[str, Any]:
        return await _remove_payment_method(request, db_session, services)

    @post("/payment-method/remove", summary="Remove your card (from a form)", status_code=200)
    async def remove_payment_method_form(
        self, request: Request[Any, Any, Any], db_session: DbSession, services: Services
    ) -> dict[str, Any]:
        return await _remove_payment_method(request, db_session, services)
