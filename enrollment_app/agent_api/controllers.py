"""The API gates use: configuration, gallery sync (snapshot, then long-polled deltas), events.

Every request carries the gate's bearer token. The token authenticates the gate and also
derives the key its gallery is sealed under, so nothing new is stored for that.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import JSONBody, Parameter

from enrollment_app.agent_api.schemas import (
    AgentConfig,
    ChargeIn,
    ChargeOut,
    EventsIn,
    EventsOut,
    GalleryOut,
    GateOut,
    OperatorOut,
    VenueOut,
)
from enrollment_app.observability import GALLERY_ENTRIES_SERVED, GALLERY_LONG_POLLS
from enrollment_app.state import DbSession, Services
from optin.crypto.gate_wire import gate_key
from optin.db.base import utcnow
from optin.db.enums import EventOutcome, Purpose
from optin.db.models import Gate, Venue
from optin.errors import Unauthorized
from optin.services.charges import ChargeRequest, charge
from optin.services.gallery import MAX_WAIT_SECONDS, gallery_page, transform_seed_for_gate
from optin.services.gate_events import GateEvent, record_gate_events
from optin.services.gates import authenticate_gate, require_notice_lead_time


def _bearer(request: Request[Any, Any, Any]) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send the gate token as 'Authorization: Bearer <token>'")
    return token.strip()


async def _gate(
    request: Request[Any, Any, Any], db_session: DbSession, services: Services
) -> tuple[Gate, Venue, bytes]:
    token = _bearer(request)
    gate, venue = await authenticate_gate(db_session, services.keys.tokens, token)
    await require_notice_lead_time(db_session, services.settings, venue)
    return gate, venue, gate_key(token)


class AgentController(Controller):
    path = "/api/v1/agent"
    tags = ["gate agent"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @get("/config", summary="The gate's venue, thresholds and sealed transform seed")
    async def config(
        self, request: Request[Any, Any, Any], db_session: DbSession, services: Services
    ) -> AgentConfig:
        gate, venue, key = await _gate(request, db_session, services)
        settings = services.settings
        return AgentConfig(
            gate=GateOut(id=gate.id, name=gate.name),
            venue=VenueOut(
                slug=venue.slug,
                name=venue.name,
                timezone=venue.timezone,
                currency=venue.currency,
                pin_above_minor=venue.pin_above_minor,
            ),
            transform_seed=transform_seed_for_gate(services.keys.master, venue, key),
            match_threshold=settings.faces.match_threshold,
            match_margin=settings.gates.match_margin,
            max_offline_seconds=settings.gates.max_offline_seconds,
            operator=OperatorOut(
                name=settings.operator.legal_name, contact_email=settings.operator.contact_email
            ),
        )

    @get("/gallery", summary="Snapshot (since=0) or long-polled delta of the venue's gallery")
    async def gallery(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        services: Services,
        since: int = Parameter(default=0, ge=0),
        wait: float = Parameter(default=0.0, ge=0.0, le=MAX_WAIT_SECONDS),
    ) -> GalleryOut:
        _gate_row, venue, key = await _gate(request, db_session, services)
        with GALLERY_LONG_POLLS.track_inprogress():
            page = await gallery_page(
                db_session, services.keys.master, services.keys.subjects, venue, key, since, wait
            )
        GALLERY_ENTRIES_SERVED.inc(len(page.entries))
        return GalleryOut(
            venue=venue.slug,
            kind=page.kind,
            sequence=page.sequence,
            entries=[entry.as_dict() for entry in page.entries],
            issued_at=utcnow(),
        )

    @post(
        "/events",
        summary="Decisions about enrolled people (idempotent by event id)",
        status_code=200,
    )
    async def events(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[EventsIn],
        db_session: DbSession,
        services: Services,
    ) -> EventsOut:
        gate, venue, _key = await _gate(request, db_session, services)
        receipt = await record_gate_events(
            db_session,
            services.keys.master,
            gate,
            venue,
            [
                GateEvent(
                    id=event.id,
                    ref=event.ref,
                    purpose=Purpose(event.purpose),
                    outcome=EventOutcome(event.outcome),
                    distance=event.distance,
                    occurred_at=event.occurred_at,
                )
                for event in data.events
            ],
        )
        return EventsOut(
            accepted=receipt.accepted, duplicates=receipt.duplicates, unknown=receipt.unknown
        )

    @post(
        "/charges",
        summary="Charge the recognised person (idempotent by idempotency_key)",
        description="Errors are problems with a `code`: 428 pin-required (retry the same key "
        "with `pin`), 422 wrong-pin (`attempts_left`), 423 pin-locked, 403 payment-not-allowed "
        "(`reason`), 409 charge-in-progress or idempotency-conflict, 503 "
        "payment-provider-unavailable (retry the same key: never charged twice).",
        status_code=200,
    )
    async def charges(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ChargeIn],
        db_session: DbSession,
        services: Services,
    ) -> ChargeOut:
        gate, venue, _key = await _gate(request, db_session, services)
        result = await charge(
            db_session,
            services.keys,
            services.payment_provider(),
            services.settings.payments,
            gate,
            venue,
            ChargeRequest(
                ref=data.ref,
                amount_minor=data.amount_minor,
                currency=data.currency,
                item=data.item,
                idempotency_key=data.idempotency_key,
                pin=data.pin,
            ),
        )
        return ChargeOut(
            charge_id=result.charge_id,
            status=result.status,
            amount_minor=result.amount_minor,
            currency=result.currency,
            decline_code=result.decline_code,
        )
