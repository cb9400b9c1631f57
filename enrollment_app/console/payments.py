"""Console payments: a venue's payment settings, its charges and refunds.

Administrators set a venue's currency and PIN limit. Administrators and the venue's own staff
list its charges (what, how much, when, which till: never who paid) and refund them; every
refund is audited with the operator's stated reason and shows in the person's portal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody

from enrollment_app.console.context import Console, required_reason
from optin.db.models import Charge, Gate, Venue
from optin.services.charges import refund, set_venue_payments, venue_charges
from optin.services.roles import Permission
from optin.services.venues import venue_by_slug


class PaymentSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    currency: Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")] | None = None
    # 0: a PIN for every payment.
    pin_above_minor: Annotated[int, msgspec.Meta(ge=0, le=10**12)] | None = None


class RefundIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)]
    # None: all that is left.
    amount_minor: Annotated[int, msgspec.Meta(gt=0, le=10**12)] | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def describe_charge(charge: Charge, till: str) -> dict[str, Any]:
    """What venue staff may see of a charge: no person, no provider token."""
    return {
        "id": str(charge.id),
        "created_at": charge.created_at.isoformat(),
        "gate": till,
        "item": charge.item,
        "amount_minor": charge.amount_minor,
        "currency": charge.currency,
        "status": str(charge.status),
        "refunded_minor": charge.refunded_minor,
        "failure_code": charge.failure_code,
        "updated_at": _iso(charge.updated_at),
    }


def _settings(venue: Venue) -> dict[str, Any]:
    return {
        "venue": venue.slug,
        "currency": venue.currency,
        "pin_above_minor": venue.pin_above_minor,
    }


async def _venue(console: Console, slug: str) -> Venue:
    return await venue_by_slug(console.db, slug)


class PaymentsController(Controller):
    path = "/api/v1/console"
    tags = ["console"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @get("/venues/{slug:str}/payment-settings", summary="A venue's currency and PIN limit")
    async def payment_settings(self, console: Console, slug: FromPath[str]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_VENUES)
        return _settings(await _venue(console, slug))

    @patch("/venues/{slug:str}/payment-settings", summary="Set a venue's currency or PIN limit")
    async def set_payment_settings(
        self, console: Console, slug: FromPath[str], data: JSONBody[PaymentSettingsIn]
    ) -> dict[str, Any]:
        await console.require(Permission.MANAGE_VENUES)
        venue = await set_venue_payments(
            console.db,
            await _venue(console, slug),
            currency=data.currency,
            pin_above_minor=data.pin_above_minor,
        )
        await console.audit("venue.payment_settings_changed", details=_settings(venue))
        await console.db.commit()
        return _settings(venue)

    @get("/venues/{slug:str}/charges", summary="A venue's charges, newest first (never who)")
    async def charges(
        self, console: Console, slug: FromPath[str], limit: FromQuery[int] = 200
    ) -> list[dict[str, Any]]:
        venue = await _venue(console, slug)
        await console.require(Permission.VIEW_CHARGES, venue.id)
        return [
            describe_charge(c, till) for c, till in await venue_charges(console.db, venue.id, limit)
        ]

    @post(
        "/venues/{slug:str}/charges/{charge_id:uuid}/refund",
        summary="Refund a charge in part or in full (a reason is required; audited)",
        status_code=200,
    )
    async def refund(
        self,
        console: Console,
        slug: FromPath[str],
        charge_id: FromPath[UUID],
        data: JSONBody[RefundIn],
    ) -> dict[str, Any]:
        venue = await _venue(console, slug)
        await console.require(Permission.REFUND_CHARGES, venue.id)
        reason = required_reason(data.reason)
        charge, amount = await refund(
            console.db,
            console.services.payment_provider(),
            charge_id,
            data.amount_minor,
            venue_id=venue.id,
        )
        # The person sees who refunded what and why (the portal's record of operator actions).
        await console.audit(
            "charge.refunded",
            subject_id=charge.subject_id,
            reason=reason,
            details={
                "venue": venue.slug,
                "charge": str(charge.id),
                "amount_minor": amount,
                "currency": charge.currency,
            },
        )
        await console.db.commit()
        gate = await console.db.get(Gate, charge.gate_id)
        return describe_charge(charge, gate.name if gate else "")
