"""Minimal valid rows for database tests: `from support import db_factories as factories`."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from optin.db.enums import Language, OperatorRole, Purpose
from optin.db.models import Consent, Gate, Notice, Operator, Subject, Venue

NOW = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


def subject() -> Subject:
    return Subject(
        locale=Language.JA,
        contact_ciphertext=b"\x01ciphertext",
        retention_until=NOW + timedelta(days=30),
    )


def venue(slug: str | None = None) -> Venue:
    return Venue(
        slug=slug or f"venue-{secrets.token_hex(4)}",
        name="Shirahama Onsen Hotel",
        timezone="Asia/Tokyo",
        transform_key_wrapped=secrets.token_bytes(40),
    )


def gate(venue_id: uuid.UUID) -> Gate:
    return Gate(venue_id=venue_id, name="Main entrance", token_digest=secrets.token_hex(32))


def notice(version: int = 1, language: Language = Language.EN) -> Notice:
    body = f"Notice v{version} ({language})"
    return Notice(
        version=version,
        language=language,
        purposes=["entry", "payment"],
        title="How we use your face",
        body=body,
        text_sha256=hashlib.sha256(body.encode()).hexdigest(),
        effective_at=NOW,
        published_at=NOW,
    )


def consent(
    subject_id: uuid.UUID,
    venue_id: uuid.UUID,
    the_notice: Notice,
    purpose: Purpose,
    *,
    granted_at: datetime = NOW,
) -> Consent:
    return Consent(
        subject_id=subject_id,
        venue_id=venue_id,
        notice_id=the_notice.id,
        notice_version=the_notice.version,
        notice_language=the_notice.language,
        notice_sha256=the_notice.text_sha256,
        purpose=purpose,
        granted_at=granted_at,
        method="web-checkbox",
    )


def operator(role: OperatorRole, venue_id: uuid.UUID | None = None) -> Operator:
    return Operator(
        username=f"op-{secrets.token_hex(4)}",
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$placeholder",
        role=role,
        venue_id=venue_id,
    )
