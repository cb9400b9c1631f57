"""The closed vocabularies stored in the database.

Each is a ``StrEnum`` so values compare equal to their strings; the columns store the value and a
CHECK constraint rejects anything else on both backends. Adding a value needs a migration.
"""

from __future__ import annotations

from enum import StrEnum


class Language(StrEnum):
    JA = "ja"
    EN = "en"
    ZH = "zh"
    KO = "ko"


class Purpose(StrEnum):
    ENTRY = "entry"
    PAYMENT = "payment"


class EnrollmentMethod(StrEnum):
    # Live camera capture with a passed head-turn challenge.
    CAMERA_LIVENESS = "camera_liveness"
    # The accessibility fallback: an uploaded photo, no liveness evidence.
    PHOTO_UPLOAD = "photo_upload"


class SubjectStatus(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


class ChangeAction(StrEnum):
    ADD = "add"
    REVOKE = "revoke"


class EventOutcome(StrEnum):
    GRANTED = "granted"
    # Matched an enrolled person, but they have not consented to this purpose here: no action.
    NO_CONSENT = "no_consent"
    # Matched and consented, but holding no valid entry product (pass) for today.
    NO_ENTITLEMENT = "no_entitlement"
    # Matched, but the service refused (e.g. payment declined); the person uses the normal lane.
    REFUSED = "refused"


class RequestKind(StrEnum):
    ACCESS = "access"
    DELETION = "deletion"
    CORRECTION = "correction"
    WITHDRAWAL = "withdrawal"
    OBJECTION = "objection"


class RequestStatus(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"


class RequestChannel(StrEnum):
    PORTAL = "portal"
    EMAIL = "email"
    POST = "post"
    PHONE = "phone"
    IN_PERSON = "in_person"


class OperatorRole(StrEnum):
    ADMINISTRATOR = "administrator"
    PRIVACY_OFFICER = "privacy_officer"
    VENUE_STAFF = "venue_staff"
    AUDITOR = "auditor"


class ActorKind(StrEnum):
    OPERATOR = "operator"
    SUBJECT = "subject"
    GATE = "gate"
    SYSTEM = "system"


class ChargeStatus(StrEnum):
    # Row written, nothing asked of the provider yet (or a provider outage: retry the same key).
    PENDING = "pending"
    # Waiting for the person's PIN at the till (the amount is above the venue's limit).
    AWAITING_PIN = "awaiting_pin"
    # One request holds the charge and is talking to the provider.
    PROCESSING = "processing"
    CAPTURED = "captured"
    DECLINED = "declined"
    REFUSED = "refused"  # no payment consent, no payment method, PIN locked
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class LedgerKind(StrEnum):
    AUTHORIZATION = "authorization"
    CAPTURE = "capture"
    REFUND = "refund"
    DECLINE = "decline"
    FAILURE = "failure"


class ProvisionBasis(StrEnum):
    # The person agreed to provision to this recipient (APPI Art. 27(1)).
    CONSENT = "consent"
    # A law requires it, e.g. a warrant or a formal investigative inquiry (Art. 27(1)(i)).
    LAW_ENFORCEMENT = "law_enforcement"
