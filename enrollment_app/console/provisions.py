"""Third-party provision in the console.

Administrators register the recipients people may consent to (and retire them). Privacy officers
hand a person's data to a recipient the person consents to now, or release a minimal data set to
law enforcement on a legal-basis reference (only they may). Each handing over is a download of
the exact document, recorded (recipient, time, items, basis, SHA-256) and audited with its hash
and destination; a refused attempt is audited too. The person sees every provision in their
disclosure.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, MediaType, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from enrollment_app.console.context import Console, ConsoleContext
from optin.db.models import Venue
from optin.errors import InvalidInput, OptinError
from optin.services.provisions import (
    Handed,
    Scope,
    describe_recipient,
    list_recipients,
    provide_with_consent,
    recent_provisions,
    register_recipient,
    release_to_law_enforcement,
    retire_recipient,
)
from optin.services.roles import Permission
from optin.services.statistics import EARLIEST, LATEST
from optin.services.venues import venues_by_slug

Text200 = Annotated[str, msgspec.Meta(max_length=200)]


class RecipientIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text200
    purpose: Annotated[str, msgspec.Meta(max_length=2000)]
    items: list[str]
    contact: Annotated[str, msgspec.Meta(max_length=300)]


class ProvideIn(msgspec.Struct, forbid_unknown_fields=True):
    recipient_id: UUID
    # Optional limits: one venue, and/or local days (the venue's zone, else the console's).
    venue: str | None = None
    from_: date | None = msgspec.field(default=None, name="from")
    to: date | None = None


class ReleaseIn(msgspec.Struct, forbid_unknown_fields=True):
    authority: Text200
    venue: str
    from_: date = msgspec.field(name="from")
    to: date
    # Empty is refused with a 400 (not a schema error): the reference is the release's basis.
    basis_reference: Text200 = ""
    # Beyond the minimal set, only what the legal basis names (contact, charges, passes).
    named_items: list[str] = msgspec.field(default_factory=list)


def _scope(venue: Venue | None, first: date | None, last: date | None, zone_name: str) -> Scope:
    if (first is None) != (last is None):
        raise InvalidInput("give both ends of the period, or neither")
    if first is None or last is None:
        return Scope(venue=venue)
    if last < first:
        raise InvalidInput("the period ends before it starts")
    if not EARLIEST <= first <= last <= LATEST:
        raise InvalidInput(f"give days between {EARLIEST} and {LATEST}")
    zone = ZoneInfo(venue.timezone if venue else zone_name)
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last + timedelta(days=1), time(0), zone)
    return Scope(venue=venue, start=start, end=end)


async def _venue(console: ConsoleContext, slug: str | None) -> Venue | None:
    return (await venues_by_slug(console.db, [slug]))[0] if slug else None


async def _handed_over(console: ConsoleContext, handed: Handed, reason: str) -> Response[bytes]:
    provision = handed.provision
    await console.audit(
        "subject.provided",
        subject_id=provision.subject_id,
        reason=reason,
        details={
            "provision": str(provision.id),
            "recipient": provision.recipient_name,
            "basis": str(provision.basis),
            "basis_reference": provision.basis_reference,
            "items": list(provision.items),
            "destination": f"browser download {handed.filename}, for {provision.recipient_name}",
            "sha256": provision.content_sha256,
        },
    )
    await console.db.commit()
    return Response(
        handed.content,
        media_type=MediaType.JSON,
        headers={
            "content-disposition": f'attachment; filename="{handed.filename}"',
            "cache-control": "no-store",
        },
    )


async def _refused(
    console: ConsoleContext, action: str, subject_id: UUID, error: OptinError, **details: Any
) -> None:
    """Nothing was written before the refusal: record it and let the error answer."""
    await console.audit(
        action,
        subject_id=subject_id,
        details={**details, "refusal": error.code, "note": error.detail},
    )
    await console.db.commit()


class ProvisionsController(Controller):
    path = "/api/v1/console"
    tags = ["console"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    # --- recipients (administrators) ---------------------------------------------------------

    @get("/provision-recipients", summary="Registered recipients, retired ones included")
    async def recipients(self, console: Console) -> list[dict[str, Any]]:
        await console.require(Permission.MANAGE_RECIPIENTS)
        rows = await list_recipients(console.db, include_retired=True)
        return [describe_recipient(r) for r in rows]

    @post("/provision-recipients", summary="Register a recipient people may consent to")
    async def register(self, console: Console, data: JSONBody[RecipientIn]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_RECIPIENTS)
        recipient = await register_recipient(
            console.db,
            name=data.name,
            purpose=data.purpose,
            items=data.items,
            contact=data.contact,
        )
        await console.audit(
            "recipient.registered",
            details={"recipient": str(recipient.id), "items": list(recipient.items)},
        )
        await console.db.commit()
        return describe_recipient(recipient)

    @post(
        "/provision-recipients/{recipient_id:uuid}/retire",
        summary="Retire a recipient: no more provisions, no new consents",
        status_code=200,
    )
    async def retire(self, console: Console, recipient_id: FromPath[UUID]) -> dict[str, Any]:
        await console.require(Permission.MANAGE_RECIPIENTS)
        recipient = await retire_recipient(console.db, recipient_id)
        await console.audit("recipient.retired", details={"recipient": str(recipient.id)})
        await console.db.commit()
        return describe_recipient(recipient)

    # --- provisions (privacy officers) -------------------------------------------------------

    @get("/provisions", summary="The newest provisions: who got what, when, on which basis")
    async def provisions(self, console: Console, limit: FromQuery[int] = 100) -> list[Any]:
        await console.require(Permission.PROVIDE_DATA)
        return await recent_provisions(console.db, max(1, min(limit, 500)))

    @post(
        "/subjects/{subject_id:uuid}/provisions",
        summary="Provide a person's data to a recipient they consent to (a download, recorded)",
        status_code=200,
    )
    async def provide(
        self, console: Console, subject_id: FromPath[UUID], data: JSONBody[ProvideIn]
    ) -> Response[bytes]:
        await console.require(Permission.PROVIDE_DATA)
        try:
            venue = await _venue(console, data.venue)
            scope = _scope(venue, data.from_, data.to, console.services.settings.console.timezone)
            handed = await provide_with_consent(
                console.db,
                console.services.keys,
                console.services.settings,
                console.operator,
                subject_id,
                data.recipient_id,
                scope,
            )
        except OptinError as error:
            await _refused(
                console,
                "subject.provision_refused",
                subject_id,
                error,
                recipient=str(data.recipient_id),
            )
            raise
        return await _handed_over(
            console, handed, f"provision to {handed.provision.recipient_name} with consent"
        )

    @post(
        "/subjects/{subject_id:uuid}/law-enforcement-release",
        summary="Release the minimal data set to law enforcement on a legal basis (recorded)",
        status_code=200,
    )
    async def release(
        self, console: Console, subject_id: FromPath[UUID], data: JSONBody[ReleaseIn]
    ) -> Response[bytes]:
        await console.require(Permission.RELEASE_TO_LAW_ENFORCEMENT)
        try:
            venue = await _venue(console, data.venue)
            scope = _scope(venue, data.from_, data.to, console.services.settings.console.timezone)
            handed = await release_to_law_enforcement(
                console.db,
                console.services.keys,
                console.services.settings,
                console.operator,
                subject_id,
                authority=data.authority,
                reference=data.basis_reference,
                scope=scope,
                named_items=data.named_items,
            )
        except OptinError as error:
            await _refused(
                console,
                "subject.release_refused",
                subject_id,
                error,
                authority=data.authority,
                basis_reference=data.basis_reference or None,
            )
            raise
        provision = handed.provision
        return await _handed_over(
            console,
            handed,
            f"law-enforcement release to {provision.recipient_name} under "
            f"{provision.basis_reference}",
        )
