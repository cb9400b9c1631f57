"""Consent receipts: what a person agreed to, signed with Ed25519, checkable by anyone.

The receipt names the person only by a receipt pseudonym (an HMAC of their id), so passing it on
does not reveal the central id. Verification needs nothing but the public key published at
``/.well-known/jwks.json``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from optin.config import Settings
from optin.crypto._b64 import b64url_encode
from optin.crypto.keys import KeyProvider
from optin.crypto.signing import Signer, Verifier, verify_document
from optin.db.base import uuid7
from optin.db.models import Notice, Venue

RECEIPT_TYPE: Final = "optin.consent-receipt"
RECEIPT_VERSION: Final = 1
_PSEUDONYM_INFO: Final = b"optin/receipt-pseudonym/v1"


def receipt_pseudonym(master_keys: KeyProvider, subject_id: UUID) -> str:
    key = master_keys.derive_subkey(_PSEUDONYM_INFO)
    return "sub_" + b64url_encode(hmac.digest(key, subject_id.bytes, hashlib.sha256)[:18])


@dataclass(frozen=True)
class ReceiptCheck:
    valid: bool
    reason: str
    kid: str | None


def build_consent_receipt(
    *,
    settings: Settings,
    master_keys: KeyProvider,
    signer: Signer,
    subject_id: UUID,
    notice: Notice,
    purposes: Sequence[str],
    venues: Sequence[Venue],
    granted_at: datetime,
    retention_until: datetime,
) -> dict[str, Any]:
    operator = settings.operator
    document: dict[str, Any] = {
        "type": RECEIPT_TYPE,
        "version": RECEIPT_VERSION,
        "receipt_id": str(uuid7()),
        "issued_at": granted_at.isoformat(),
        "subject": receipt_pseudonym(master_keys, subject_id),
        "controller": {
            "name": operator.legal_name,
            "contact_email": operator.contact_email,
            "contact_phone": operator.contact_phone,
            "contact_address": operator.contact_address,
        },
        "purposes": sorted(purposes),
        "venues": [{"slug": venue.slug, "name": venue.name} for venue in venues],
        "notice": {
            "id": str(notice.id),
            "version": notice.version,
            "language": str(notice.language),
            "sha256": notice.text_sha256,
        },
        "retention_until": retention_until.isoformat(),
        "withdraw": {
            "portal": f"{settings.base_url}/portal",
            "contact": operator.contact_email,
        },
    }
    return signer.sign_document(document)


def check_receipt(document: Mapping[str, Any], verifier: Verifier) -> ReceiptCheck:
    """Genuine means: our receipt type and a valid signature by our key over every field."""
    if document.get("type") != RECEIPT_TYPE:
        return ReceiptCheck(False, "not-a-consent-receipt", None)
    signature = document.get("signature")
    kid = signature.get("kid") if isinstance(signature, Mapping) else None
    if kid != verifier.kid:
        return ReceiptCheck(False, "unknown-signing-key", kid if isinstance(kid, str) else None)
    if not verify_document(document, verifier):
        return ReceiptCheck(False, "signature-mismatch", kid)
    return ReceiptCheck(True, "genuine", kid)


def build_action_receipt(
    *,
    settings: Settings,
    master_keys: KeyProvider,
    signer: Signer,
    subject_id: UUID,
    kind: str,
    details: Mapping[str, Any],
    at: datetime,
) -> dict[str, Any]:
    """A signed receipt for a withdrawal or a deletion, in the same form as consent receipts."""
    document = {
        "type": f"optin.{kind}-receipt",
        "version": RECEIPT_VERSION,
        "receipt_id": str(uuid7()),
        "issued_at": at.isoformat(),
        "subject": receipt_pseudonym(master_keys, subject_id),
        "controller": {
            "name": settings.operator.legal_name,
            "contact_email": settings.operator.contact_email,
        },
        **details,
    }
    return signer.sign_document(document)
