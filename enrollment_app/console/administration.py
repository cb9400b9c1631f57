"""Console administration: operators, venues, gates, entry products, notices and venue keys.

Administrators manage everything here; venue staff may list and revoke their own venue's gates
and read its gate events (outcomes per clock hour only, small cells withheld: never who, never
an exact time, never biometric data).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy import select

from enrollment_app.console.context import Console
from optin.db.base import utcnow
from optin.db.enums import OperatorRole, Purpose
from optin.db.models import EntryProduct, Gate, Notice, Operator, Venue
from optin.errors import InvalidInput, NotFound
from optin.services import mail_queue
from optin.services.entitlements import add_product
from optin.services.gates import register_gate, revoke_gate
from optin.services.notices import publish_notices
from optin.services.operator_access import DEFAULT_HOURS, DEFAULT_NETWORKS
from optin.services.operators import create_operator, set_access_rules, set_disabled, unlock
from optin.services.renewal import announce_purpose_change, apply_purpose_changes
from optin.services.roles import Permission
from optin.services.statistics import default_range, venue_decisions
from optin.services.venues import (
    create_venue,
    list_venues,
    rotate_venue_key,
    venue_by_slug,
    venue_id_or_none,
    venues_by_slug,
)

RoleName = Literal["administrator", "privacy_officer", "venue_staff", "auditor"]
EVENTS_FROM = "first day, in the venue's zone (default: six days before `to`)"
EVENTS_TO = "last day, in the venue's zone (default: today); at most 31 days in all"
PurposeName = Literal["entry", "payment"]


class OperatorIn(msgspec.Struct, forbid_unknown_fields=True):
    username: Annotated[str, msgspec.Meta(max_length=64)]
    password: Annotated[str, msgspec.Meta(max_length=256)]
    role: RoleName
    venue: str | None = None
    networks: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_NETWORKS))
    hours: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_HOURS))


class AccessRulesIn(msgspec.Struct, forbid_unknown_fields=True):
    networks: list[str]
    hours: list[str]


class VenueIn(msgspec.Struct, forbid_unknown_fields=True):
    slug: Annotated[str, msgspec.Meta(max_length=64)]
    name: Annotated[str, msgspec.Meta(max_length=200)]
    timezone: str = "Asia/Tokyo"


class GateIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)]


class ProductIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(max_length=64, pattern="^[a-z0-9-]+$")]
    name: Annotated[str, msgspec.Meta(max_length=200)]
    valid_days: int | None = None


class NoticeIn(msgspec.Struct, forbid_unknown_fields=True):
    venues: list[str]
    purposes: list[PurposeName]
    changed_purposes: list[PurposeName] = msgspec.field(default_factory=list)
    # Announced in advance: when the new version applies (default now).
    effective_at: datetime | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def describe_operator(operator: Operator) -> dict[str, Any]:
    return {
        "id": str(operator.id),
        "username": operator.username,
        "role": str(operator.role),
        "venue_id": str(operator.venue_id) if operator.venue_id else None,
        "networks": operator.allowed_networks,
        "hours": operator.allowed_hours,
        "locked_until": _iso(operator.locked_until),
        "disabled_at": _iso(operator.disabled_at),
        "last_sign_in_at": _iso(operator.last_sign_in_at),
    }


def describe_gate(gate: Gate, venue: Venue) -> dict[str, Any]:
    return {
        "id": str(gate.id),
        "venue": venue.slug,
        "name": gate.name,
        "last_contact_at": _iso(gate.last_seen_at),
        "revoked_at": _iso(gate.revoked_at),
    }


async def _venue(console: Console, slug: FromPath[str]) -> Venue:
    return await venue_by_slug(console.db, slug)


async def _operator(console: Console, operator_id: FromPath[UUID]) -> Operator:
    operator = await console.db.get(Operator, operator_id)
    if operator is None:
        raise NotFound("no such operator")
    return operator


class AdministrationController(Controller):
    path = "/api/v1/console"
    tags = ["console"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    # --- operators ---------------------------------------------------------------------------

    @get("/operators", summary="List operator accounts")
    async def operators(self, console: Console) -> list[dict[str, Any]]:
        await console.require(Permission.MANAGE_OPERATORS)
        rows = await console.db.scalars(select(Operator).order_by(Operator.username))
        return [describe_operator(o) for o in rows.all()]

    @post("/operators", summary="Create an operator; the TOTP secret is shown this once")
    async def create_operator(self, console: Console, data: JSONBody[OperatorIn]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_OPERATORS)
        # A venue in the body is input: an unknown one is refused as unknown-venue (422).
        venue_id = await venue_id_or_none(console.db, data.venue)
        created = await create_operator(
            console.db,
            console.services.keys.master,
            username=data.username,
            password=data.password,
            role=OperatorRole(data.role),
            venue_id=venue_id,
            networks=data.networks,
            hours=data.hours,
            actor=console.actor,
        )
        return {
            **describe_operator(created.operator),
            "totp_secret": created.totp_secret,
            "totp_uri": created.provisioning_uri,
        }

    @patch("/operators/{operator_id:uuid}/access", summary="Set allowed networks and hours")
    async def access_rules(
        self, console: Console, operator_id: FromPath[UUID], data: JSONBody[AccessRulesIn]
    ) -> dict[str, Any]:
        await console.require(Permission.MANAGE_OPERATORS)
        operator = await _operator(console, operator_id)
        changed = await set_access_rules(
            console.db, operator, data.networks, data.hours, console.actor
        )
        return describe_operator(changed)

    @post("/operators/{operator_id:uuid}/disable", summary="Disable an account", status_code=200)
    async def disable(self, console: Console, operator_id: FromPath[UUID]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_OPERATORS)
        if operator_id == console.operator.id:
            raise InvalidInput("you cannot disable your own account")
        operator = await _operator(console, operator_id)
        return describe_operator(await set_disabled(console.db, operator, True, console.actor))

    @post("/operators/{operator_id:uuid}/enable", summary="Enable an account", status_code=200)
    async def enable(self, console: Console, operator_id: FromPath[UUID]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_OPERATORS)
        operator = await _operator(console, operator_id)
        return describe_operator(await set_disabled(console.db, operator, False, console.actor))

    @post("/operators/{operator_id:uuid}/unlock", summary="Lift a lock-out", status_code=200)
    async def unlock(self, console: Console, operator_id: FromPath[UUID]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_OPERATORS)
        operator = await _operator(console, operator_id)
        return describe_operator(await unlock(console.db, operator, console.actor))

    # --- venues, gates, products, keys -------------------------------------------------------

    @get("/venues", summary="Venues (venue staff: their own)")
    async def venues(self, console: Console) -> list[dict[str, Any]]:
        scoped = console.operator.role == OperatorRole.VENUE_STAFF
        if not scoped:
            await console.require(Permission.MANAGE_VENUES)
        return [
            {"id": str(v.id), "slug": v.slug, "name": v.name, "timezone": v.timezone}
            for v in await list_venues(console.db)
            if not scoped or v.id == console.operator.venue_id
        ]

    @post("/venues", summary="Add a venue (with a fresh venue key)")
    async def create_venue(self, console: Console, data: JSONBody[VenueIn]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_VENUES)
        venue = await create_venue(
            console.db,
            console.services.keys.master,
            slug=data.slug,
            name=data.name,
            timezone=data.timezone,
        )
        await console.audit("venue.created", details={"venue": venue.slug})
        await console.db.commit()
        return {"id": str(venue.id), "slug": venue.slug, "name": venue.name}

    @post("/venues/{slug:str}/rotate-key", summary="Rotate the venue key", status_code=200)
    async def rotate_key(self, console: Console, slug: FromPath[str]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_KEYS)
        sequence = await rotate_venue_key(console.db, console.services.keys.master, slug)
        await console.audit("venue.key_rotated", details={"venue": slug})
        await console.db.commit()
        return {"venue": slug, "resync_from": sequence}

    @get("/venues/{slug:str}/gates", summary="A venue's gates and when each last made contact")
    async def gates(self, console: Console, slug: FromPath[str]) -> list[dict[str, Any]]:
        venue = await _venue(console, slug)
        await console.require(Permission.VIEW_GATES, venue.id)
        rows = await console.db.scalars(
            select(Gate).where(Gate.venue_id == venue.id).order_by(Gate.name)
        )
        return [describe_gate(gate, venue) for gate in rows.all()]

    @post("/venues/{slug:str}/gates", summary="Register a gate; its token is shown this once")
    async def register_gate(
        self, console: Console, slug: FromPath[str], data: JSONBody[GateIn]
    ) -> dict[str, Any]:
        await console.require(Permission.MANAGE_VENUES)
        gate, token = await register_gate(console.db, console.services.keys.tokens, slug, data.name)
        venue = await _venue(console, slug)
        await console.audit("gate.registered", details={"venue": slug, "gate": str(gate.id)})
        await console.db.commit()
        return {**describe_gate(gate, venue), "token": token}

    @post("/gates/{gate_id:uuid}/revoke", summary="Revoke a gate's token", status_code=200)
    async def revoke_gate(self, console: Console, gate_id: FromPath[UUID]) -> dict[str, Any]:
        gate = await console.db.get(Gate, gate_id)
        if gate is None:
            raise NotFound("no such gate")
        await console.require(Permission.REVOKE_GATES, gate.venue_id)
        revoked = await revoke_gate(console.db, gate_id)
        venue = await console.db.get(Venue, revoked.venue_id)
        assert venue is not None
        await console.audit("gate.revoked", details={"venue": venue.slug, "gate": str(gate_id)})
        await console.db.commit()
        return describe_gate(revoked, venue)

    @get(
        "/venues/{slug:str}/events",
        summary="Gate decisions per hour, small counts withheld (never who, never the minute)",
    )
    async def events(
        self,
        console: Console,
        slug: FromPath[str],
        first: Annotated[date | None, QueryParameter(name="from", description=EVENTS_FROM)] = None,
        last: Annotated[date | None, QueryParameter(name="to", description=EVENTS_TO)] = None,
    ) -> dict[str, Any]:
        # Exact decision times would undo the statistics' small-cell suppression (an hour
        # withheld there could be counted here), so this list is cut into the statistics' hour
        # cells for everyone who may read it. By optin.services.roles only venue staff hold
        # VIEW_EVENTS, and nobody else needs the venue-wide list to the minute: a privacy officer
        # investigating one person reads that person's decisions, exact times included, in the
        # subject record (VIEW_SUBJECTS, with a stated reason, audited) or releases them
        # (PROVIDE_DATA, RELEASE_TO_LAW_ENFORCEMENT); an auditor reviews who did what in the
        # audit log (READ_AUDIT), which holds no gate decisions; administrators run the venue
        # and see the statistics. A role that ever needs exact venue-wide times should get a
        # permission of its own, audited, rather than this list uncoarsened.
        venue = await _venue(console, slug)
        await console.require(Permission.VIEW_EVENTS, venue.id)
        first, last = default_range(venue, first, last, utcnow())
        return await venue_decisions(
            console.db, venue, first, last, console.services.settings.statistics.min_count
        )

    @get("/venues/{slug:str}/products", summary="A venue's entry products")
    async def products(self, console: Console, slug: FromPath[str]) -> list[dict[str, Any]]:
        venue = await _venue(console, slug)
        await console.require(Permission.MANAGE_VENUES)
        rows = await console.db.scalars(
            select(EntryProduct)
            .where(EntryProduct.venue_id == venue.id)
            .order_by(EntryProduct.code)
        )
        return [{"code": p.code, "name": p.name, "valid_days": p.valid_days} for p in rows.all()]

    @post("/venues/{slug:str}/products", summary="Add an entry product")
    async def add_product(
        self, console: Console, slug: FromPath[str], data: JSONBody[ProductIn]
    ) -> dict[str, Any]:
        await console.require(Permission.MANAGE_VENUES)
        venue = await _venue(console, slug)
        product = await add_product(
            console.db, venue, code=data.code, name=data.name, valid_days=data.valid_days
        )
        await console.audit("product.added", details={"venue": slug, "code": product.code})
        await console.db.commit()
        return {"code": product.code, "name": product.name, "valid_days": product.valid_days}

    # --- notices -----------------------------------------------------------------------------

    @get("/notices", summary="Notice versions with their effective dates")
    async def notices(self, console: Console) -> list[dict[str, Any]]:
        await console.require(Permission.MANAGE_VENUES)
        rows = await console.db.scalars(
            select(Notice).where(Notice.language == "en").order_by(Notice.version.desc())
        )
        now = utcnow()
        return [
            {
                "version": n.version,
                "title": n.title,
                "purposes": n.purposes,
                "changed_purposes": n.changed_purposes,
                "venue_ids": n.venue_ids,
                "published_at": _iso(n.published_at),
                "effective_at": n.effective_at.isoformat(),
                "in_effect": n.effective_at <= now,
            }
            for n in rows.all()
        ]

    @post("/notices", summary="Publish the next notice version in all four languages")
    async def publish(self, console: Console, data: JSONBody[NoticeIn]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_VENUES)
        if data.effective_at is not None and data.effective_at.tzinfo is None:
            raise InvalidInput("give effective_at with a time zone, e.g. 2026-12-01T00:00:00+09:00")
        if data.effective_at is not None and data.effective_at < utcnow():
            raise InvalidInput("a notice cannot take effect in the past")
        venues = await venues_by_slug(console.db, data.venues)
        published = await publish_notices(
            console.db,
            console.services.settings,
            venues,
            [Purpose(p) for p in data.purposes],
            effective_at=data.effective_at,
            changed_purposes=[Purpose(p) for p in data.changed_purposes],
        )
        version = published[0].version
        await console.audit(
            "notice.published",
            details={"version": version, "changed_purposes": list(data.changed_purposes)},
        )
        # The change-of-purpose mails are queued with the publication and sent in the
        # background: thousands of people must not hold this request.
        queued = await announce_purpose_change(console.db, version) if data.changed_purposes else 0
        await console.db.commit()
        mail_queue.queued.notify()
        # In effect now: set the outdated consents aside at once rather than at the next
        # periodic check (a later effective date is picked up by that check).
        marked = await apply_purpose_changes(console.db, console.services.keys)
        return {
            "version": version,
            "effective_at": published[0].effective_at.isoformat(),
            "consents_needing_renewal": marked,
            "mails_queued": queued,
        }
