"""Shapes of the gate agent API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec


class GateOut(msgspec.Struct):
    id: UUID
    name: str


class VenueOut(msgspec.Struct):
    slug: str
    name: str
    timezone: str
    # For tills: the currency charges must be in, and the amount above which a PIN is asked.
    currency: str
    pin_above_minor: int


class OperatorOut(msgspec.Struct):
    name: str
    contact_email: str


class AgentConfig(msgspec.Struct):
    gate: GateOut
    venue: VenueOut
    transform_seed: str
    match_threshold: float
    match_margin: float
    max_offline_seconds: int
    operator: OperatorOut


class GalleryOut(msgspec.Struct):
    venue: str
    kind: Literal["snapshot", "delta"]
    sequence: int
    entries: list[dict[str, Any]]
    issued_at: datetime


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    id: UUID
    ref: Annotated[str, msgspec.Meta(min_length=1, max_length=96)]
    purpose: Literal["entry", "payment"]
    outcome: Literal["granted", "no_consent", "no_entitlement"]
    distance: Annotated[float, msgspec.Meta(ge=0.0, le=4.0)]
    occurred_at: datetime


class EventsIn(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[EventIn], msgspec.Meta(max_length=500)]


class EventsOut(msgspec.Struct):
    accepted: int
    duplicates: int
    unknown: int


class ChargeIn(msgspec.Struct, forbid_unknown_fields=True):
    """A purchase at a till or gate, charged to the person the gate recognised."""

    ref: Annotated[str, msgspec.Meta(min_length=1, max_length=96)]
    amount_minor: Annotated[int, msgspec.Meta(gt=0, le=10**12)]
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]
    item: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    idempotency_key: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    # Only when the till asked for it (428 pin-required); never logged or stored.
    pin: Annotated[str, msgspec.Meta(max_length=16)] | None = None


class ChargeOut(msgspec.Struct):
    charge_id: UUID
    status: Literal["captured", "declined"]
    amount_minor: int
    currency: str
    decline_code: str | None
