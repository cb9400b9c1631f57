"""Everything held about one person, in one document: the portal page, the export, and the
response package for a disclosure request all come from here.

Built on request and never stored. Covers every register table linked to the person (see
optin/db/register.py); a test checks that no such table is left out. The face template is
described (model, created, how it is stored) but never included: no one, the person included,
receives a raw template.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Final
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.config import Settings
from optin.db.base import utcnow
from optin.db.models import (
    AuditEntry,
    Charge,
    Consent,
    Entitlement,
    EntryProduct,
    Event,
    FaceTemplate,
    Gate,
    Notice,
    PaymentMethod,
    PaymentPin,
    PrivacyRequest,
    Subject,
    Venue,
    VenueChange,
)
from optin.errors import NotFound
from optin.runtime import Keys
from optin.services.gallery import venue_key
from optin.services.provisions import consents_of, describe_provision, provisions_of
from optin.services.receipts import receipt_pseudonym
from optin.services.subjects import read_contact

DISCLOSURE_TYPE: Final = "optin.disclosure"
DISCLOSURE_VERSION: Final = 1
#: Register tables linked to a person, and where the disclosure shows them.
COVERED: Final = {
    "subjects": "subject",
    "consents": "consents",
    "face_templates": "face_templates",
    "entitlements": "entitlements",
    "events": "events",
    "privacy_requests": "privacy_requests",
    "sign_in_links": "sign_in",
    "portal_sessions": "sign_in",
    "mail_queue": "sign_in",
    "audit_log": "operator_accesses",
    "venue_changes": "venue_records",
    "payment_methods": "payments",
    "payment_pins": "payments",
    "charges": "payments",
    "provisions": "third_party_provisions",
    "provision_consents": "provision_consents",
}


def disclosure_schema() -> dict[str, Any]:
    text = resources.files("optin.services").joinpath("disclosure.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def _payments(
    session: AsyncSession, venues: dict[UUID, Venue], subject_id: UUID
) -> dict[str, Any]:
    """Payment methods (label only: the provider token is never shown), PIN state, charges."""
    methods = [
        {
            "provider": m.provider,
            "label": m.label,
            "added_at": _iso(m.created_at),
            "removed_at": _iso(m.removed_at),
        }
        for m in (
            await session.scalars(
                select(PaymentMethod)
                .where(PaymentMethod.subject_id == subject_id)
                .order_by(PaymentMethod.created_at)
            )
        ).all()
    ]
    pin = await session.scalar(select(PaymentPin).where(PaymentPin.subject_id == subject_id))
    charges = [
        {
            "id": str(c.id),
            "venue": venues[c.venue_id].slug,
            "item": c.item,
            "amount_minor": c.amount_minor,
            "currency": c.currency,
            "status": str(c.status),
            "refunded_minor": c.refunded_minor,
            "at": _iso(c.created_at),
        }
        for c in (
            await session.scalars(
                select(Charge).where(Charge.subject_id == subject_id).order_by(Charge.created_at)
            )
        ).all()
    ]
    return {
        "methods": methods,
        "pin": {
            "set": pin is not None,
            "locked_until": _iso(pin.locked_until) if pin else None,
        },
        "charges": charges,
    }


async def build_disclosure(
    session: AsyncSession, keys: Keys, settings: Settings, subject_id: UUID
) -> dict[str, Any]:
    subject = await session.get(Subject, subject_id)
    if subject is None:
        raise NotFound("no such person")
    operator = settings.operator
    venues = {v.id: v for v in (await session.scalars(select(Venue))).all()}

    consents = []
    rows = await session.execute(
        select(Consent, Notice)
        .join(Notice, Notice.id == Consent.notice_id)
        .where(Consent.subject_id == subject_id)
        .order_by(Consent.granted_at, Consent.purpose)
    )
    for consent, notice in rows.all():
        venue = venues[consent.venue_id]
        consents.append(
            {
                "purpose": str(consent.purpose),
                "venue": {"slug": venue.slug, "name": venue.name},
                "granted_at": _iso(consent.granted_at),
                "withdrawn_at": _iso(consent.withdrawn_at),
                # Set when a later notice changed what this purpose means: gates do not use the
                # consent until the person agrees again (or it is withdrawn).
                "renewal_required_at": _iso(consent.renewal_required_at),
                "method": consent.method,
                "notice": {
                    "id": str(notice.id),
                    "version": notice.version,
                    "language": str(notice.language),
                    "sha256": notice.text_sha256,
                    "title": notice.title,
                    "text": notice.body,
                },
            }
        )

    templates = [
        {
            "id": str(t.id),
            "model": t.model,
            "created_at": _iso(t.created_at),
            "stored_as": "AES-256-GCM ciphertext under a key of your own; never shown or exported",
        }
        for t in (
            await session.scalars(select(FaceTemplate).where(FaceTemplate.subject_id == subject_id))
        ).all()
    ]
    entitlements = [
        {
            "venue": venues[e.venue_id].slug,
            "product": product.name,
            "valid_from": _iso(e.valid_from),
            "valid_until": _iso(e.valid_until),
            "source": e.source,
        }
        for e, product in (
            await session.execute(
                select(Entitlement, EntryProduct)
                .join(EntryProduct, EntryProduct.id == Entitlement.product_id)
                .where(Entitlement.subject_id == subject_id)
            )
        ).all()
    ]
    events = [
        {
            "venue": venues[e.venue_id].slug,
            "gate": gate.name,
            "purpose": str(e.purpose),
            "outcome": str(e.outcome),
            "occurred_at": _iso(e.occurred_at),
        }
        for e, gate in (
            await session.execute(
                select(Event, Gate)
                .join(Gate, Gate.id == Event.gate_id)
                .where(Event.subject_id == subject_id)
                .order_by(Event.occurred_at)
            )
        ).all()
    ]
    requests = [
        {
            "id": str(r.id),
            "kind": str(r.kind),
            "status": str(r.status),
            "received_at": _iso(r.received_at),
            "due_at": _iso(r.due_at),
            "closed_at": _iso(r.closed_at),
            "outcome": r.outcome,
        }
        for r in (
            await session.scalars(
                select(PrivacyRequest)
                .where(PrivacyRequest.subject_id == subject_id)
                .order_by(PrivacyRequest.received_at)
            )
        ).all()
    ]
    accesses = [
        {
            "when": _iso(a.occurred_at),
            "who": str(a.actor_kind),
            "action": a.action,
            "reason": a.reason,
        }
        for a in (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.subject_ref == str(subject_id))
                .order_by(AuditEntry.seq)
            )
        ).all()
    ]
    # What each venue's gates were told about the person, under that venue's pseudonym.
    venue_records = []
    consented_at = await session.scalars(
        select(Consent.venue_id).where(Consent.subject_id == subject_id).distinct()
    )
    for venue in (venues[venue_id] for venue_id in consented_at.all()):
        ref = venue_key(keys.master, venue).pseudonym(subject_id)
        logged = (
            await session.scalars(
                select(VenueChange)
                .where(VenueChange.venue_id == venue.id, VenueChange.subject_ref == ref)
                .order_by(VenueChange.seq)
            )
        ).all()
        venue_records.append(
            {
                "venue": venue.slug,
                "pseudonym": ref,
                "gallery_changes": [
                    {"action": str(c.action), "at": _iso(c.created_at)} for c in logged
                ],
            }
        )
    payments = await _payments(session, venues, subject_id)
    provided = [
        describe_provision(p, venues, None) for p in await provisions_of(session, subject_id)
    ]
    contact = await read_contact(keys.subjects, subject) if subject.status == "active" else None
    return {
        "type": DISCLOSURE_TYPE,
        "version": DISCLOSURE_VERSION,
        "generated_at": _iso(utcnow()),
        "controller": {
            "name": operator.legal_name,
            "contact_email": operator.contact_email,
            "contact_phone": operator.contact_phone,
            "contact_address": operator.contact_address,
        },
        "subject": {
            "id": str(subject.id),
            "receipt_pseudonym": receipt_pseudonym(keys.master, subject.id),
            "status": str(subject.status),
            "locale": str(subject.locale),
            "enrolled_at": _iso(subject.created_at),
            "enrollment_method": str(subject.enrollment_method)
            if subject.enrollment_method
            else None,
            "retention_until": _iso(subject.retention_until),
            "contact": {"email": contact},
        },
        "consents": consents,
        "face_templates": templates,
        "entitlements": entitlements,
        "events": events,
        "privacy_requests": requests,
        "operator_accesses": accesses,
        "venue_records": venue_records,
        "payments": payments,
        # Every handing over to a third party (with consent, or a law-enforcement release),
        # and the recipients the person agreed to.
        "third_party_provisions": provided,
        "provision_consents": await consents_of(session, subject_id),
        "sign_in": {
            "note": "one-time sign-in links and portal sessions are kept only as keyed hashes "
            "and end when used, expired or signed out; mails waiting to be sent to you (a "
            "change of purpose) name only you and the notice, and are deleted once sent"
        },
    }
