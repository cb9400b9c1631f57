"""Third-party provision (BRIEF ⑮ and 3.4): to a recipient only with the person's consent for
that recipient, to law enforcement only on a recorded legal basis with a minimal data set, and
every provision recorded and shown to the person.

What can be provided is named by data-lifecycle register entries (``PROVIDABLE``). The face
template is not among them: no one receives a template, whatever the basis. A recipient's items
are fixed when it is registered, so a consent covers exactly what the person was shown.

A law-enforcement release carries by default only ``LAW_ENFORCEMENT_MINIMUM``: the person's
pseudonymous id, their consents at the venue in force during the period, and their gate
decisions there in that period. Contact data, charges and passes go only when the privacy officer
states that the legal basis names them (``LAW_ENFORCEMENT_NAMED_ONLY``); that statement is part
of the record.

The data handed over is built here, hashed (SHA-256 of the exact bytes) and returned once; the
record keeps the hash, never a copy. Callers audit and commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from optin.backup.journal import ErasureRecorder, Withdrawal
from optin.config import Settings
from optin.db.base import utcnow, uuid7
from optin.db.enums import ProvisionBasis, SubjectStatus
from optin.db.models import (
    Charge,
    Consent,
    Entitlement,
    EntryProduct,
    Event,
    Gate,
    Operator,
    Provision,
    ProvisionConsent,
    ProvisionRecipient,
    Subject,
    Venue,
)
from optin.db.register import REGISTER
from optin.errors import Conflict, InvalidInput, NotFound
from optin.runtime import Keys
from optin.services.subjects import read_contact

PROVISION_TYPE: Final = "optin.provision"
PROVISION_VERSION: Final = 1

CONTACT: Final = "subjects.contact_ciphertext"
#: Register entries that may be provided, and what each gives (the contact is decrypted).
PROVIDABLE: Final[Mapping[str, str]] = {
    "subjects.id": "the person's id in our records (a pseudonym, no name)",
    "consents": "consents: purpose, venue, notice version, when given and withdrawn",
    "events": "gate decisions: venue, gate, purpose, outcome, time",
    "entitlements": "passes: venue, product, validity",
    "charges": "payments: venue, item, amount, status, time",
    CONTACT: "the person's email address",
}
LAW_ENFORCEMENT_MINIMUM: Final = ("subjects.id", "consents", "events")
#: Only when the legal basis names them.
LAW_ENFORCEMENT_NAMED_ONLY: Final = frozenset({"entitlements", "charges", CONTACT})
MIN_REFERENCE: Final = 3


@dataclass(frozen=True)
class Scope:
    """What the data is limited to: one venue and/or a period [start, end), or nothing."""

    venue: Venue | None = None
    start: datetime | None = None
    end: datetime | None = None

    def during(self, column: Any) -> list[ColumnElement[bool]]:
        clauses: list[ColumnElement[bool]] = []
        if self.start is not None:
            clauses.append(column >= self.start)
        if self.end is not None:
            clauses.append(column < self.end)
        return clauses


@dataclass(frozen=True)
class Handed:
    """A provision just recorded, and the exact bytes to hand over."""

    provision: Provision
    content: bytes
    filename: str


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def register_names(items: Sequence[str]) -> list[str]:
    """``items`` as ordered, known, providable register names (refused otherwise)."""
    unknown = [i for i in items if i not in PROVIDABLE]
    if unknown:
        raise InvalidInput(
            f"not something that can be provided: {', '.join(unknown)}"
            f" (choose from {', '.join(PROVIDABLE)})"
        )
    if not items:
        raise InvalidInput("name at least one item to provide")
    return [name for name in PROVIDABLE if name in items]


def in_register(name: str) -> bool:
    table, _, column = name.partition(".")
    entry = REGISTER.get(table)
    return entry is not None and (not column or column in entry.columns)


# --- recipients and consents -----------------------------------------------------------------


def describe_recipient(recipient: ProvisionRecipient) -> dict[str, Any]:
    return {
        "id": str(recipient.id),
        "name": recipient.name,
        "purpose": recipient.purpose,
        "items": list(recipient.items),
        "contact": recipient.contact,
        "registered_at": _iso(recipient.created_at),
        "retired_at": _iso(recipient.retired_at),
    }


async def register_recipient(
    session: AsyncSession, *, name: str, purpose: str, items: Sequence[str], contact: str
) -> ProvisionRecipient:
    name, purpose, contact = name.strip(), purpose.strip(), contact.strip()
    if not name or not purpose or not contact:
        raise InvalidInput("a recipient needs a name, a purpose and a contact")
    if await session.scalar(select(ProvisionRecipient).where(ProvisionRecipient.name == name)):
        raise Conflict(f"a recipient named {name} exists already")
    recipient = ProvisionRecipient(
        name=name, purpose=purpose, items=register_names(items), contact=contact
    )
    session.add(recipient)
    await session.flush()
    return recipient


async def get_recipient(session: AsyncSession, recipient_id: UUID) -> ProvisionRecipient:
    recipient = await session.get(ProvisionRecipient, recipient_id)
    if recipient is None:
        raise NotFound("no such recipient")
    return recipient


async def retire_recipient(session: AsyncSession, recipient_id: UUID) -> ProvisionRecipient:
    recipient = await get_recipient(session, recipient_id)
    if recipient.retired_at is None:
        recipient.retired_at = utcnow()
        await session.flush()
    return recipient


async def list_recipients(
    session: AsyncSession, *, include_retired: bool
) -> list[ProvisionRecipient]:
    query = select(ProvisionRecipient).order_by(ProvisionRecipient.name)
    if not include_retired:
        query = query.where(ProvisionRecipient.retired_at.is_(None))
    return list((await session.scalars(query)).all())


async def _live_consent(
    session: AsyncSession, subject_id: UUID, recipient_id: UUID
) -> ProvisionConsent | None:
    return await session.scalar(
        select(ProvisionConsent).where(
            ProvisionConsent.subject_id == subject_id,
            ProvisionConsent.recipient_id == recipient_id,
            ProvisionConsent.withdrawn_at.is_(None),
        )
    )


async def set_provision_consent(
    session: AsyncSession,
    subject_id: UUID,
    recipient_id: UUID,
    *,
    consent: bool,
    journal: ErasureRecorder,
    withdrawn_at: datetime | None = None,
) -> tuple[ProvisionRecipient, ProvisionConsent]:
    """The person agrees to (or withdraws from) provision to one recipient; commits.

    Agreeing twice keeps the first agreement; withdrawing without one is refused. A withdrawal
    is journaled before it commits, so a restored backup withdraws it again (``withdrawn_at``:
    the replay's original time; None: now).
    """
    recipient = await get_recipient(session, recipient_id)
    live = await _live_consent(session, subject_id, recipient_id)
    now = utcnow()
    if consent:
        if recipient.retired_at is not None:
            raise Conflict("this recipient no longer receives data")
        if live is None:
            live = ProvisionConsent(
                subject_id=subject_id, recipient_id=recipient_id, granted_at=now
            )
            session.add(live)
            try:
                await session.commit()
            except IntegrityError:  # a parallel request agreed first
                await session.rollback()
                live = await _live_consent(session, subject_id, recipient_id)
                if live is None:
                    raise
        return recipient, live
    if live is None:
        raise NotFound("you have not agreed to provision to this recipient")
    live.withdrawn_at = withdrawn_at or now
    journaled = Withdrawal(live.id, subject_id, live.withdrawn_at, provision=True)
    await asyncio.to_thread(journal.record_withdrawals, [journaled])
    await session.commit()
    return recipient, live


# --- what is handed over ---------------------------------------------------------------------


async def _collect(
    session: AsyncSession, keys: Keys, subject: Subject, items: Sequence[str], scope: Scope
) -> dict[str, Any]:
    """The data for ``items``, limited to ``scope``. Nothing outside ``items`` is read."""
    venues = {v.id: v for v in (await session.scalars(select(Venue))).all()}

    def at_venue(column: Any) -> list[ColumnElement[bool]]:
        return [column == scope.venue.id] if scope.venue else []

    data: dict[str, Any] = {}
    if "subjects.id" in items:
        data["subject_id"] = str(subject.id)
    if "consents" in items:
        # Consents in force at some point of the period.
        in_force = []
        if scope.end is not None:
            in_force.append(Consent.granted_at < scope.end)
        if scope.start is not None:
            in_force.append(Consent.withdrawn_at.is_(None) | (Consent.withdrawn_at >= scope.start))
        rows = await session.scalars(
            select(Consent)
            .where(Consent.subject_id == subject.id, *at_venue(Consent.venue_id), *in_force)
            .order_by(Consent.granted_at, Consent.purpose)
        )
        data["consents"] = [
            {
                "purpose": str(c.purpose),
                "venue": venues[c.venue_id].slug,
                "notice_version": c.notice_version,
                "notice_sha256": c.notice_sha256,
                "granted_at": _iso(c.granted_at),
                "withdrawn_at": _iso(c.withdrawn_at),
            }
            for c in rows.all()
        ]
    if "events" in items:
        events = await session.execute(
            select(Event, Gate)
            .join(Gate, Gate.id == Event.gate_id)
            .where(
                Event.subject_id == subject.id,
                *at_venue(Event.venue_id),
                *scope.during(Event.occurred_at),
            )
            .order_by(Event.occurred_at)
        )
        data["events"] = [
            {
                "venue": venues[e.venue_id].slug,
                "gate": gate.name,
                "purpose": str(e.purpose),
                "outcome": str(e.outcome),
                "occurred_at": _iso(e.occurred_at),
            }
            for e, gate in events.all()
        ]
    if "entitlements" in items:
        overlapping = []
        if scope.end is not None:
            overlapping.append(Entitlement.valid_from < scope.end)
        if scope.start is not None:
            overlapping.append(Entitlement.valid_until >= scope.start)
        passes = await session.execute(
            select(Entitlement, EntryProduct)
            .join(EntryProduct, EntryProduct.id == Entitlement.product_id)
            .where(
                Entitlement.subject_id == subject.id,
                *at_venue(Entitlement.venue_id),
                *overlapping,
            )
            .order_by(Entitlement.valid_from)
        )
        data["entitlements"] = [
            {
                "venue": venues[e.venue_id].slug,
                "product": product.name,
                "valid_from": _iso(e.valid_from),
                "valid_until": _iso(e.valid_until),
            }
            for e, product in passes.all()
        ]
    if "charges" in items:
        charges = await session.scalars(
            select(Charge)
            .where(
                Charge.subject_id == subject.id,
                *at_venue(Charge.venue_id),
                *scope.during(Charge.created_at),
            )
            .order_by(Charge.created_at)
        )
        data["charges"] = [
            {
                "venue": venues[c.venue_id].slug,
                "item": c.item,
                "amount_minor": c.amount_minor,
                "currency": c.currency,
                "status": str(c.status),
                "refunded_minor": c.refunded_minor,
                "at": _iso(c.created_at),
            }
            for c in charges.all()
        ]
    if CONTACT in items:
        data["contact"] = {"email": await read_contact(keys.subjects, subject)}
    return data


async def _active_subject(session: AsyncSession, subject_id: UUID) -> Subject:
    subject = await session.get(Subject, subject_id)
    if subject is None:
        raise NotFound("no such person")
    if subject.status != SubjectStatus.ACTIVE:
        raise Conflict("this person's data has been deleted")
    return subject


async def _hand_over(
    session: AsyncSession,
    keys: Keys,
    settings: Settings,
    operator: Operator,
    subject: Subject,
    *,
    recipient_name: str,
    recipient_id: UUID | None,
    consent_id: UUID | None,
    basis: ProvisionBasis,
    basis_reference: str | None,
    items: list[str],
    scope: Scope,
    terms: str,
) -> Handed:
    """Build the document, hash its exact bytes and record the provision (not committed)."""
    provision_id = uuid7()
    at = utcnow()
    data = await _collect(session, keys, subject, items, scope)
    document = {
        "type": PROVISION_TYPE,
        "version": PROVISION_VERSION,
        "provision": {
            "id": str(provision_id),
            "provided_at": at.isoformat(),
            "provided_by": operator.username,
            "controller": {
                "name": settings.operator.legal_name,
                "contact_email": settings.operator.contact_email,
                "contact_address": settings.operator.contact_address,
            },
            "recipient": recipient_name,
            "basis": {"kind": str(basis), "reference": basis_reference},
            "items": items,
            "scope": {
                "venue": scope.venue.slug if scope.venue else None,
                "from": _iso(scope.start),
                "until": _iso(scope.end),
            },
        },
        "terms": terms,
        "data": data,
    }
    content = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    provision = Provision(
        id=provision_id,
        subject_id=subject.id,
        recipient_id=recipient_id,
        recipient_name=recipient_name,
        basis=basis,
        basis_reference=basis_reference,
        consent_id=consent_id,
        items=items,
        venue_id=scope.venue.id if scope.venue else None,
        period_start=scope.start,
        period_end=scope.end,
        provided_at=at,
        operator_id=operator.id,
        content_sha256=hashlib.sha256(content).hexdigest(),
    )
    session.add(provision)
    await session.flush()
    stamp = at.strftime("%Y%m%dT%H%M%SZ")
    return Handed(provision, content, f"optin-provision-{provision_id}-{stamp}.json")


async def consent_for(
    session: AsyncSession, subject_id: UUID, recipient: ProvisionRecipient
) -> ProvisionConsent:
    """The person's live consent to ``recipient``; ``Conflict`` (409) without one."""
    if recipient.retired_at is not None:
        raise Conflict(f"{recipient.name} is retired and receives no data", reason="retired")
    consent = await _live_consent(session, subject_id, recipient.id)
    if consent is None:
        raise Conflict(
            f"this person has not consented to provision to {recipient.name}",
            reason="no-provision-consent",
        )
    return consent


async def provide_with_consent(
    session: AsyncSession,
    keys: Keys,
    settings: Settings,
    operator: Operator,
    subject_id: UUID,
    recipient_id: UUID,
    scope: Scope,
) -> Handed:
    """Hand the recipient's items to it, if the person consents to that recipient now."""
    subject = await _active_subject(session, subject_id)
    recipient = await get_recipient(session, recipient_id)
    consent = await consent_for(session, subject.id, recipient)
    return await _hand_over(
        session,
        keys,
        settings,
        operator,
        subject,
        recipient_name=recipient.name,
        recipient_id=recipient.id,
        consent_id=consent.id,
        basis=ProvisionBasis.CONSENT,
        basis_reference=None,
        items=list(recipient.items),
        scope=scope,
        terms=(
            f"Provided with the person's consent (given {consent.granted_at.isoformat()}) for "
            f"this purpose only: {recipient.purpose}. Do not pass it on."
        ),
    )


def law_enforcement_items(named: Sequence[str]) -> list[str]:
    """The minimal set plus what the legal basis names (only from the allowed extras)."""
    extra = set(named) - set(LAW_ENFORCEMENT_MINIMUM)
    refused = extra - LAW_ENFORCEMENT_NAMED_ONLY
    if refused:
        raise InvalidInput(f"a law-enforcement release cannot include {', '.join(sorted(refused))}")
    return register_names([*LAW_ENFORCEMENT_MINIMUM, *extra])


def check_basis_reference(reference: str | None) -> str:
    text = (reference or "").strip()
    if len(text) < MIN_REFERENCE:
        raise InvalidInput(
            "a law-enforcement release needs the legal basis reference (warrant or inquiry number)",
            reason="basis-reference-required",
        )
    return text


async def release_to_law_enforcement(
    session: AsyncSession,
    keys: Keys,
    settings: Settings,
    operator: Operator,
    subject_id: UUID,
    *,
    authority: str,
    reference: str,
    scope: Scope,
    named_items: Sequence[str],
) -> Handed:
    """Release the minimal data set for one venue and period on a recorded legal basis."""
    if scope.venue is None or scope.start is None or scope.end is None:
        raise InvalidInput("a law-enforcement release is limited to one venue and a period")
    authority = authority.strip()
    if not authority:
        raise InvalidInput("name the authority the data is released to")
    reference = check_basis_reference(reference)
    items = law_enforcement_items(named_items)
    subject = await _active_subject(session, subject_id)
    return await _hand_over(
        session,
        keys,
        settings,
        operator,
        subject,
        recipient_name=authority,
        recipient_id=None,
        consent_id=None,
        basis=ProvisionBasis.LAW_ENFORCEMENT,
        basis_reference=reference,
        items=items,
        scope=scope,
        terms=(
            f"Released under {reference} for the purposes of that legal basis only. The person"
            " concerned is told of this release in their disclosure."
        ),
    )


# --- the record ------------------------------------------------------------------------------


def describe_provision(
    provision: Provision, venues: Mapping[UUID, Venue], operators: Mapping[UUID, str] | None
) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": str(provision.id),
        "recipient": provision.recipient_name,
        "basis": str(provision.basis),
        "basis_reference": provision.basis_reference,
        "items": list(provision.items),
        "venue": venues[provision.venue_id].slug if provision.venue_id else None,
        "period_start": _iso(provision.period_start),
        "period_end": _iso(provision.period_end),
        "provided_at": _iso(provision.provided_at),
        "sha256": provision.content_sha256,
    }
    if operators is not None:
        shown["subject_id"] = str(provision.subject_id)
        shown["provided_by"] = operators.get(provision.operator_id)
    return shown


async def provisions_of(session: AsyncSession, subject_id: UUID) -> list[Provision]:
    return list(
        (
            await session.scalars(
                select(Provision)
                .where(Provision.subject_id == subject_id)
                .order_by(Provision.provided_at)
            )
        ).all()
    )


async def recent_provisions(session: AsyncSession, limit: int) -> list[dict[str, Any]]:
    """The newest provisions, for privacy officers (who did it, for whom)."""
    venues = {v.id: v for v in (await session.scalars(select(Venue))).all()}
    rows = await session.execute(
        select(Provision, Operator.username)
        .join(Operator, Operator.id == Provision.operator_id)
        .order_by(Provision.provided_at.desc())
        .limit(limit)
    )
    return [describe_provision(p, venues, {p.operator_id: username}) for p, username in rows.all()]


async def consents_of(session: AsyncSession, subject_id: UUID) -> list[dict[str, Any]]:
    """The person's provision consents, newest first, with what each recipient receives."""
    rows = await session.execute(
        select(ProvisionConsent, ProvisionRecipient)
        .join(ProvisionRecipient, ProvisionRecipient.id == ProvisionConsent.recipient_id)
        .where(ProvisionConsent.subject_id == subject_id)
        .order_by(ProvisionConsent.granted_at)
    )
    return [
        {
            "recipient_id": str(recipient.id),
            "recipient": recipient.name,
            "purpose": recipient.purpose,
            "items": list(recipient.items),
            "granted_at": _iso(consent.granted_at),
            "withdrawn_at": _iso(consent.withdrawn_at),
        }
        for consent, recipient in rows.all()
    ]
