"""The data-lifecycle register: every table and every column, what it holds and why.

For each stored item: what it holds, its purpose, its personal-data category, its retention rule
and who may read it. A test fails when a model's table or column is missing here or this names
something that no longer exists, so the register cannot drift from the schema (acceptance
check 12). Each table's ``rule`` says what its retention text says in a form tests check
against the code: a table ``PurgedAfter`` a period must have a purge in the retention sweep.
``subject_link`` names the column that ties a row to one person; disclosure exports and
deletion walk the tables that have one.

Readers: the operator roles, plus ``subject`` (the person, through the portal and export),
``gate`` (the venue's gate agent, through the agent API) and ``service`` (the server's own code,
no human). A column's readers default to its table's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Final

from sqlalchemy import MetaData

from optin.config import RetentionSettings, retention_variable


class Category(StrEnum):
    NONE = "none"
    PSEUDONYMOUS = "pseudonymous"
    PERSONAL = "personal"
    BIOMETRIC_ENCRYPTED = "biometric-encrypted"
    SECRET = "secret"  # noqa: S105 - a data category, not a password


class Reader(StrEnum):
    ADMINISTRATOR = "administrator"
    PRIVACY_OFFICER = "privacy_officer"
    VENUE_STAFF = "venue_staff"
    AUDITOR = "auditor"
    SUBJECT = "subject"
    GATE = "gate"
    SERVICE = "service"


class Keep(StrEnum):
    """Retention rules under which the service deletes nothing by age."""

    LIFE_OF_SERVICE = "life-of-service"  # never deleted by the service
    WHILE_IN_USE = "while-in-use"  # until an operator retires or removes it, never by age
    WITH_PERSON = "with-person"  # deleted, withdrawn or unlinked when the person is deleted
    # Deleted when the person's last live consent is withdrawn, and with the person.
    WHILE_CONSENTED = "while-consented"
    UNTIL_DONE = "until-done"  # deleted by the code that finishes with it (a sent mail)


@dataclass(frozen=True)
class PurgedAfter:
    """Purged by the retention sweep once older than ``RetentionSettings.<period>``."""

    period: str

    def __post_init__(self) -> None:
        if self.period not in {period.name for period in fields(RetentionSettings)}:
            raise ValueError(f"no retention setting named {self.period}")
        if self.unit not in {"days", "years"}:
            raise ValueError(f"retention setting {self.period} must end in _days or _years")

    @property
    def unit(self) -> str:
        return self.period.rsplit("_", 1)[-1]

    def length(self, settings: RetentionSettings) -> int:
        """The period in ``unit``s under ``settings``."""
        return int(getattr(settings, self.period))

    def span(self, settings: RetentionSettings) -> str:
        """E.g. "30 days" or "1 day"."""
        value = self.length(settings)
        return f"{value} {self.unit.removesuffix('s') if value == 1 else self.unit}"

    def describe(self, settings: RetentionSettings | None = None) -> str:
        """E.g. "30 days by default (OPTIN_RETENTION_EVENT_DAYS)", or ``settings``' value."""
        default = "" if settings else " by default"
        span = self.span(settings or RetentionSettings())
        return f"{span}{default} ({retention_variable(self.period)})"


RetentionRule = Keep | PurgedAfter


@dataclass(frozen=True)
class ColumnEntry:
    holds: str
    category: Category
    readers: frozenset[Reader] | None = None
    purpose: str | None = None
    retention: str | None = None


@dataclass(frozen=True)
class TableEntry:
    holds: str
    purpose: str
    retention: str
    rule: RetentionRule
    readers: frozenset[Reader]
    subject_link: str | None
    columns: Mapping[str, ColumnEntry]


@dataclass(frozen=True)
class RegisterItem:
    """One column with its table's defaults applied."""

    table: str
    column: str
    holds: str
    purpose: str
    category: Category
    retention: str
    readers: frozenset[Reader]


A = Reader.ADMINISTRATOR
PO = Reader.PRIVACY_OFFICER
VS = Reader.VENUE_STAFF
AU = Reader.AUDITOR
SUBJECT = Reader.SUBJECT
GATE = Reader.GATE
SERVICE = Reader.SERVICE

NONE = Category.NONE
PSEUDO = Category.PSEUDONYMOUS
PERSONAL = Category.PERSONAL
BIOMETRIC = Category.BIOMETRIC_ENCRYPTED
SECRET = Category.SECRET


def _col(
    holds: str,
    category: Category,
    *readers: Reader,
    purpose: str | None = None,
    retention: str | None = None,
) -> ColumnEntry:
    return ColumnEntry(holds, category, frozenset(readers) or None, purpose, retention)


def _readers(*readers: Reader) -> frozenset[Reader]:
    return frozenset(readers)


def _id(what: str, category: Category = NONE) -> ColumnEntry:
    return _col(f"UUIDv7 identifying the {what}; its first 48 bits are the creation time", category)


_CREATED = _col("when the row was written (UTC)", NONE)
_UPDATED = _col("when the row last changed (UTC)", NONE)

INFRASTRUCTURE_TABLES = frozenset({"alembic_version"})
#: How long a provision record is kept by default (APPI record-keeping).
PROVISION_RECORD_YEARS: Final = RetentionSettings.provision_years

_EVENTS = PurgedAfter("event_days")
_SPENT_ACCESS = PurgedAfter("spent_access_days")
_CLOSED_REQUESTS = PurgedAfter("privacy_request_years")
_AUDIT_PERIOD = PurgedAfter("audit_days")
_PROVISIONS = PurgedAfter("provision_years")
_BOOKKEEPING = PurgedAfter("bookkeeping_years")
_CHANGE_LOG = PurgedAfter("venue_change_days")

REGISTER: Mapping[str, TableEntry] = {
    "subjects": TableEntry(
        holds="one enrolled person: pseudonymous id, locale, encrypted contact, retention",
        purpose="operate the opt-in service for the person and let them manage their data",
        retention=(
            "until retention_until (trip end + grace) or a deletion request; deletion erases the"
            " contact and destroys the data key (crypto-shredding), leaving a tombstone with no"
            " personal data"
        ),
        rule=Keep.WITH_PERSON,
        readers=_readers(PO, SUBJECT, SERVICE),
        subject_link="id",
        columns={
            "id": _id("person (the central pseudonym, never shown to venues)", PSEUDO),
            "locale": _col("language the person chose (ja/en/zh/ko)", PERSONAL),
            "contact_ciphertext": _col(
                "email or phone, AES-GCM under the person's data key",
                PERSONAL,
                PO,
                SUBJECT,
                SERVICE,
                purpose="send receipts, change notices and answers to requests",
            ),
            "status": _col("active or deleted", NONE),
            "retention_until": _col(
                "deadline after which the retention job deletes the person",
                PERSONAL,
                purpose="enforce storage limitation automatically",
            ),
            "deleted_at": _col("when the person was deleted", NONE, PO, AU, SERVICE),
            "enrollment_method": _col(
                "live camera with a liveness challenge, or the photo-upload fallback", NONE
            ),
            "recovery_code_digest": _col(
                "HMAC of the recovery code shown once at enrollment (portal access without mail)",
                SECRET,
                SERVICE,
            ),
            "created_at": _col("when the person enrolled", PERSONAL),
            "updated_at": _UPDATED,
        },
    ),
    "consents": TableEntry(
        holds="one consent to one purpose at one venue under one exact notice text",
        purpose="prove what the person agreed to, and gate every use on a live consent",
        retention=(
            "while the person exists; withdrawn, not deleted, when they are deleted: kept with the"
            " tombstone as proof of what was agreed (no personal data beyond the pseudonymous id)"
        ),
        rule=Keep.WITH_PERSON,
        readers=_readers(PO, AU, SUBJECT, SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("consent record"),
            "subject_id": _col("the person who consented", PSEUDO),
            "purpose": _col("entry or payment", PERSONAL),
            "venue_id": _col("the venue the consent is scoped to", PERSONAL),
            "notice_id": _col("the notice text shown", NONE),
            "notice_version": _col("version of that notice", NONE),
            "notice_language": _col("language of that notice", PERSONAL),
            "notice_sha256": _col("SHA-256 of the exact notice text", NONE),
            "granted_at": _col("when consent was given", PERSONAL),
            "withdrawn_at": _col("when consent was withdrawn, if it was", PERSONAL),
            "method": _col("how consent was given, e.g. web-checkbox", NONE),
            "renewal_required_at": _col(
                "when a change of purpose suspended this consent until renewed", PERSONAL
            ),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "face_templates": TableEntry(
        holds="the 128-d face encoding, AES-256-GCM under the person's data key",
        purpose="recognise the enrolled person at the venues they consented to",
        retention=(
            "while a live consent could use it: deleted in the same transaction that withdraws"
            " the person's last live consent (one a change of purpose set aside still counts,"
            " until renewed or withdrawn), and at deletion (on request or at retention_until),"
            " when destroying the data key also makes it unreadable at once"
        ),
        rule=Keep.WHILE_CONSENTED,
        readers=_readers(SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("template"),
            "subject_id": _col("whose face this is", PSEUDO),
            "model": _col("encoder that produced the vector", NONE),
            "ciphertext": _col(
                "the encrypted vector; no role can read it raw, gates get a venue-transformed copy",
                BIOMETRIC,
                SERVICE,
            ),
            "created_at": _col("when the template was enrolled", PERSONAL),
            "updated_at": _UPDATED,
        },
    ),
    "notices": TableEntry(
        holds="the published privacy notices, one row per version and language",
        purpose="show people what they agree to and prove which text they saw",
        retention="kept for the life of the service: consents cite them",
        rule=Keep.LIFE_OF_SERVICE,
        readers=_readers(A, PO, VS, AU, SUBJECT, GATE, SERVICE),
        subject_link=None,
        columns={
            "id": _id("notice text"),
            "version": _col("notice version number", NONE),
            "language": _col("ja, en, zh or ko", NONE),
            "purposes": _col("purposes the notice covers", NONE),
            "title": _col("notice title", NONE),
            "body": _col("notice text", NONE),
            "text_sha256": _col("SHA-256 of the text, cited by consents", NONE),
            "effective_at": _col("when the notice applies from", NONE),
            "published_at": _col("when it was published (lead time for gates)", NONE),
            "venue_ids": _col("the venues the notice names", NONE),
            "changed_purposes": _col("purposes whose meaning this version changed", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "venues": TableEntry(
        holds="a hotel, shop or attraction running gates, and its wrapped venue key",
        purpose="scope consent, galleries, pseudonyms and staff access to one venue",
        retention="while the venue takes part",
        rule=Keep.WHILE_IN_USE,
        readers=_readers(A, PO, VS, AU, SERVICE),
        subject_link=None,
        columns={
            "id": _id("venue"),
            "slug": _col("short public name used in URLs", NONE),
            "name": _col("display name", NONE),
            "timezone": _col("IANA time zone of the venue", NONE),
            "transform_key_wrapped": _col(
                "venue key for pseudonyms and the gallery transform, wrapped by the master key",
                SECRET,
                SERVICE,
            ),
            "last_change_seq": _col("last change-log number handed out", NONE, SERVICE),
            "currency": _col("ISO 4217 currency of payments at the venue", NONE),
            "pin_above_minor": _col("amount above which a payment needs the PIN (0: always)", NONE),
            "key_rotated_seq": _col(
                "change-log number of the last venue key rotation (gates resync)", NONE, SERVICE
            ),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "gates": TableEntry(
        holds="a gate agent registered to a venue, with the digest of its token",
        purpose="authenticate gates and attribute their events",
        retention=(
            "while the gate is in service; revoked gates are kept: events and charges name them"
        ),
        rule=Keep.WHILE_IN_USE,
        readers=_readers(A, VS, AU, SERVICE),
        subject_link=None,
        columns={
            "id": _id("gate"),
            "venue_id": _col("venue the gate belongs to", NONE),
            "name": _col("display name, e.g. the entrance it guards", NONE),
            "token_digest": _col("HMAC of the gate's bearer token", SECRET, SERVICE),
            "last_seen_at": _col("last time the gate called in", NONE),
            "revoked_at": _col("when the gate's access was revoked", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "venue_changes": TableEntry(
        holds="numbered add/revoke entries of one venue's gallery, by venue pseudonym only",
        purpose="let gates long-poll gallery changes so withdrawals reach them within a second",
        retention=(
            f"{_CHANGE_LOG.describe()}, then purged by the retention sweep; a gate whose last"
            " sync is older than the oldest entry kept gets a full snapshot instead"
        ),
        rule=_CHANGE_LOG,
        readers=_readers(GATE, SERVICE),
        subject_link="subject_ref",
        columns={
            "id": _id("change"),
            "venue_id": _col("venue whose gallery changed", NONE),
            "seq": _col("per-venue, gapless, increasing sequence number", NONE),
            "action": _col("add or revoke", PSEUDO),
            "subject_ref": _col("venue-specific pseudonym (keyed HMAC of the person)", PSEUDO),
            "created_at": _CREATED,
        },
    ),
    "events": TableEntry(
        holds="a gate's decision about an enrolled person (never about strangers)",
        purpose="carry out entry or payment and let the person see what happened",
        retention=(
            f"{_EVENTS.describe()} after the decision, then purged by the retention sweep; unlinked"
            " from the person (subject_id set to NULL) when they are deleted"
        ),
        rule=_EVENTS,
        readers=_readers(PO, VS, AU, SUBJECT, SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("event"),
            "venue_id": _col("where it happened", PERSONAL),
            "gate_id": _col("which gate decided", PERSONAL),
            "subject_id": _col(
                "the person; venue staff see only the venue pseudonym", PSEUDO, PO, AU, SUBJECT
            ),
            "purpose": _col("entry or payment", PERSONAL),
            "outcome": _col("granted, no_consent or refused", PERSONAL),
            "distance": _col(
                "face distance of the match (no vector, no image)",
                PERSONAL,
                purpose="review wrong matches and measure accuracy",
            ),
            "occurred_at": _col("when the gate decided (the person's whereabouts)", PERSONAL),
            "idempotency_key": _col("gate-chosen key so a retried upload is stored once", NONE),
            "created_at": _CREATED,
        },
    ),
    "entry_products": TableEntry(
        holds="the entry products a venue offers (e.g. a day pass, the stay pass)",
        purpose="decide at the gate whether a matched person may enter without a ticket",
        retention="while the venue offers it",
        rule=Keep.WHILE_IN_USE,
        readers=_readers(A, PO, VS, AU, SERVICE),
        subject_link=None,
        columns={
            "id": _id("entry product"),
            "venue_id": _col("the venue offering it", NONE),
            "code": _col("short code, unique per venue", NONE),
            "name": _col("display name", NONE),
            "valid_days": _col("how many days it is valid (empty: the whole stay)", NONE),
            "included_with_enrollment": _col("granted to everyone enrolled for entry", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "entitlements": TableEntry(
        holds="which enrolled person may enter which venue, and until when",
        purpose="ticketless entry: the gate admits a matched person only with a valid one",
        retention="deleted with the person (at trip end + grace, or on request)",
        rule=Keep.WITH_PERSON,
        readers=_readers(PO, VS, SUBJECT, GATE, SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("entitlement"),
            "subject_id": _col("the person", PSEUDO, PO, SUBJECT, SERVICE),
            "venue_id": _col("the venue", NONE),
            "product_id": _col("the entry product", NONE),
            "valid_from": _col("start of validity", PERSONAL),
            "valid_until": _col("end of validity (sent to the venue's gates)", PERSONAL),
            "source": _col("enrollment or purchase", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "portal_sessions": TableEntry(
        holds="signed-in portal sessions (only the HMAC of the cookie and of the CSRF token)",
        purpose="let a person see and manage their data after signing in",
        retention=(
            f"ended at sign-out or after the session limit, purged {_SPENT_ACCESS.describe()} after"
            " that; deleted with the person"
        ),
        rule=_SPENT_ACCESS,
        readers=_readers(SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("portal session"),
            "subject_id": _col("the signed-in person", PSEUDO),
            "token_digest": _col("HMAC-SHA256 of the session cookie", SECRET),
            "csrf_digest": _col("HMAC-SHA256 of the session's CSRF token", SECRET),
            "expires_at": _col("absolute end of the session", NONE),
            "last_seen_at": _col("last request (idle timeout)", NONE),
            "ended_at": _col("when it was signed out", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "sign_in_links": TableEntry(
        holds="one-time portal sign-in links mailed to a person (only their HMAC)",
        purpose="let the person reach the self-service portal without a password",
        retention=(
            f"used or expired links are purged {_SPENT_ACCESS.describe()} after they stop working;"
            " deleted with the person"
        ),
        rule=_SPENT_ACCESS,
        readers=_readers(SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("sign-in link"),
            "subject_id": _col("the person the link signs in", PSEUDO),
            "token_digest": _col("HMAC-SHA256 of the link's token", SECRET),
            "expires_at": _col("when the link stops working", NONE),
            "used_at": _col("when it was used (it works once)", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "mail_queue": TableEntry(
        holds="mails waiting to be sent to one person: whom, which kind and notice version, "
        "which purposes (never the address or the text)",
        purpose="send mails due to many people (a change of purpose) in the background, none "
        "lost and none twice",
        retention="deleted once sent or given up; deleted with the person",
        rule=Keep.UNTIL_DONE,
        readers=_readers(SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("queued mail"),
            "kind": _col("which mail, e.g. purpose-change", NONE),
            "subject_id": _col("the person to tell", PSEUDO),
            "notice_version": _col("the notice version the mail is about", NONE),
            "purposes": _col("the purposes the mail names", PSEUDO),
            "attempts": _col("failed sends so far", NONE),
            "claimed_until": _col("a sender holds the row until then", NONE),
            "last_error": _col("code of the last failure, e.g. mail-failed", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "privacy_requests": TableEntry(
        holds="access, deletion, correction, withdrawal and objection requests and their handling",
        purpose="answer people's requests within the legal deadline and prove it",
        retention=(
            f"open requests are kept; closed ones {_CLOSED_REQUESTS.describe()} after closing (the"
            " record that they were answered), then purged"
        ),
        rule=_CLOSED_REQUESTS,
        readers=_readers(PO, AU, SUBJECT, SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("request"),
            "subject_id": _col("the requester, once matched to a person", PSEUDO),
            "kind": _col("what was asked for", PERSONAL),
            "status": _col("where the request stands", NONE),
            "channel": _col("how the request arrived", PERSONAL),
            "details": _col("the request in the person's words", PERSONAL, PO, SUBJECT, SERVICE),
            "received_at": _col("when it arrived", PERSONAL),
            "verified_at": _col("when the requester's identity was verified", PERSONAL),
            "due_at": _col("legal deadline for the answer", NONE),
            "target_at": _col("internal target for the answer (APPI: without delay)", NONE),
            "identity_check": _col("how the requester's identity was checked", PERSONAL),
            "verified_by": _col("operator who checked the requester's identity", NONE),
            "closed_at": _col("when it was answered", PERSONAL),
            "outcome": _col("what was done", PERSONAL),
            "handled_by": _col("operator who handled it", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "operators": TableEntry(
        holds="console accounts of staff, privacy officers, auditors and administrators",
        purpose="authenticate operators, enforce least privilege and attribute their actions",
        retention="while the person works with us; disabled accounts kept for audit attribution",
        rule=Keep.WHILE_IN_USE,
        readers=_readers(A, AU, SERVICE),
        subject_link=None,
        columns={
            "id": _id("operator"),
            "username": _col("login name", PERSONAL),
            "password_hash": _col("argon2id hash of the password", SECRET, SERVICE),
            "role": _col("administrator, privacy_officer, venue_staff or auditor", NONE),
            "venue_id": _col("the one venue a venue_staff account may see", NONE),
            "totp_secret_ciphertext": _col("second-factor secret, encrypted", SECRET, SERVICE),
            "failed_logins": _col("consecutive failed logins", NONE),
            "locked_until": _col("lock-out end after too many failures", NONE),
            "disabled_at": _col("when the account was disabled", NONE),
            "allowed_networks": _col("networks (CIDR) sign-in is allowed from", NONE),
            "allowed_hours": _col("weekly time windows sign-in is allowed in", NONE),
            "totp_last_step": _col("last accepted TOTP time step (replay guard)", NONE, SERVICE),
            "last_sign_in_at": _col("when the operator last signed in", PERSONAL),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "audit_log": TableEntry(
        holds="append-only, hash-chained record of operator actions and personal-data access",
        purpose="make every access accountable and show people who accessed their data",
        retention=(
            "kept for the life of the service: verification walks the chain from its first entry,"
            " so no entry is deleted (deleting the oldest end after a signed checkpoint is not"
            " implemented)"
        ),
        rule=Keep.LIFE_OF_SERVICE,
        readers=_readers(PO, AU, SERVICE),
        subject_link="subject_ref",
        columns={
            "id": _id("entry"),
            "seq": _col("position in the chain", NONE),
            "occurred_at": _col("when the action happened", NONE),
            "actor_kind": _col("operator, subject, gate or system", NONE),
            "actor_id": _col("who acted (operator, gate or subject id)", PSEUDO),
            "action": _col("what was done", NONE),
            "subject_ref": _col("pseudonym of the person concerned, if any", PSEUDO),
            "reason": _col("the reason the operator gave", PERSONAL),
            "details": _col("structured context; never biometric or contact data", PSEUDO),
            "prev_hash": _col("entry_hash of the previous entry", NONE),
            "entry_hash": _col("SHA-256 over this entry and prev_hash", NONE),
        },
    ),
    "operator_sessions": TableEntry(
        holds="signed-in console sessions, stored only as HMACs of their tokens",
        purpose="keep operators signed in for a bounded time and sign them out automatically",
        retention=(
            f"ended or expired sessions are kept {_AUDIT_PERIOD.describe()} (who was signed in"
            " when, from where), then purged"
        ),
        rule=_AUDIT_PERIOD,
        readers=_readers(A, AU, SERVICE),
        subject_link=None,
        columns={
            "id": _id("session"),
            "operator_id": _col("the operator signed in", NONE),
            "token_digest": _col("HMAC of the session cookie", SECRET, SERVICE),
            "csrf_digest": _col("HMAC of the CSRF token", SECRET, SERVICE),
            "expires_at": _col("absolute session limit", NONE),
            "last_seen_at": _col("last request (idle timeout)", NONE),
            "ended_at": _col("when the session ended", NONE),
            "end_reason": _col("signed_out, idle, limit, window, network or disabled", NONE),
            "client_address": _col("network address the session was opened from", PERSONAL),
            "user_agent": _col("browser the session was opened with", PERSONAL),
            "device_id": _col("the registered device the session was opened on", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "operator_devices": TableEntry(
        holds="browsers registered for an operator, stored only as HMACs of their tokens",
        purpose="let operators sign in only from devices an administrator registered for them",
        retention=(
            f"revoked devices and unused registration codes are kept {_AUDIT_PERIOD.describe()}"
            " after revocation or expiry (which device was used when), then purged once no kept"
            " session names them"
        ),
        rule=_AUDIT_PERIOD,
        readers=_readers(A, SERVICE),
        subject_link=None,
        columns={
            "id": _id("device"),
            "operator_id": _col("the operator the device belongs to", NONE),
            "label": _col("name the administrator gave it, e.g. 'front desk laptop'", NONE),
            "registration_digest": _col("HMAC of the one-time registration code", SECRET, SERVICE),
            "registration_expires_at": _col("when the registration code stops working", NONE),
            "registered_at": _col("when the code was used (then it is spent)", NONE),
            "token_digest": _col("HMAC of the device cookie", SECRET, SERVICE),
            "user_agent": _col("browser the code was opened in", PERSONAL),
            "last_used_at": _col("last sign-in from the device", PERSONAL),
            "revoked_at": _col("when the device was revoked", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "audit_head": TableEntry(
        holds="the audit chain's newest sequence number and hash (one row)",
        purpose="serialise appends and reveal entries deleted from the end of the chain",
        retention="the life of the database",
        rule=Keep.LIFE_OF_SERVICE,
        readers=_readers(AU, SERVICE),
        subject_link=None,
        columns={
            "id": _col("always 1", NONE),
            "seq": _col("sequence number of the newest entry", NONE),
            "last_hash": _col("entry_hash of the newest entry", NONE),
        },
    ),
    "audit_checkpoints": TableEntry(
        holds="Ed25519 signatures over the audit chain at a sequence number",
        purpose="prove the chain up to a point was not rewritten, even by someone with DB access",
        retention=("as long as the audit entries they cover: the life of the service"),
        rule=Keep.LIFE_OF_SERVICE,
        readers=_readers(AU, SERVICE),
        subject_link=None,
        columns={
            "id": _id("checkpoint"),
            "seq": _col("the entry the signature covers up to", NONE),
            "entry_hash": _col("that entry's hash", NONE),
            "signed_at": _col("when it was signed", NONE),
            "key_id": _col("signing key id (JWK thumbprint)", NONE),
            "signature": _col("Ed25519 signature, base64url", NONE),
        },
    ),
    "payment_methods": TableEntry(
        holds="the payment provider's token for a person's card, sealed; never a card number",
        purpose="charge a person who consented to payment, without handling card data",
        retention="until the person removes it, withdraws payment consent or is deleted",
        rule=Keep.WITH_PERSON,
        readers=_readers(SUBJECT, SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("payment method"),
            "subject_id": _col("whose method it is", PSEUDO),
            "provider": _col("payment provider name", NONE),
            "token_ciphertext": _col("provider token, sealed under the data key", SECRET, SERVICE),
            "label": _col("card brand and last four digits, for display", PERSONAL),
            "removed_at": _col("when the person removed it", PERSONAL),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "payment_pins": TableEntry(
        holds="argon2id hash of the person's payment PIN and its lock-out state",
        purpose="step-up check for payments above a venue's limit",
        retention="until the person removes payment or is deleted",
        rule=Keep.WITH_PERSON,
        readers=_readers(SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("PIN record"),
            "subject_id": _col("whose PIN it is", PSEUDO),
            "pin_hash": _col("argon2id hash of the PIN", SECRET),
            "failed_attempts": _col("consecutive wrong PINs", NONE),
            "locked_until": _col("lock-out end after too many wrong PINs", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "charges": TableEntry(
        holds="one purchase at a venue's till or gate: amount, item, status, provider reference",
        purpose="take payment by face with consent; keep the books",
        retention=(
            f"amounts kept {_BOOKKEEPING.describe()} (statutory bookkeeping period), then purged"
            " once their ledger entries are; the person is removed (subject_id set to NULL) when"
            " they are deleted"
        ),
        rule=_BOOKKEEPING,
        readers=_readers(A, VS, SUBJECT, SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("charge"),
            "venue_id": _col("where the purchase happened", NONE),
            "gate_id": _col("the till or gate that asked", NONE),
            "subject_id": _col("who paid; NULL once they are deleted", PSEUDO, SUBJECT, SERVICE),
            "idempotency_key": _col("the till's key for this purchase (retries)", NONE),
            "amount_minor": _col("amount in minor units", PERSONAL),
            "currency": _col("ISO 4217 currency", NONE),
            "item": _col("what was bought, as the till named it", PERSONAL),
            "status": _col("pending, captured, declined, refunded, ...", NONE),
            "provider": _col("payment provider name", NONE),
            "provider_payment_id": _col("the provider's payment reference", PSEUDO),
            "failure_code": _col("decline or failure code from the provider", NONE),
            "refunded_minor": _col("amount refunded so far", PERSONAL),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "ledger_entries": TableEntry(
        holds="append-only money movements and attempts for each charge",
        purpose="bookkeeping and reconciliation with the provider",
        retention=(
            f"{_BOOKKEEPING.describe()} (statutory bookkeeping period), then purged; holds no"
            " person"
        ),
        rule=_BOOKKEEPING,
        readers=_readers(A, AU, SERVICE),
        subject_link=None,
        columns={
            "id": _id("ledger entry"),
            "charge_id": _col("the charge it belongs to", NONE),
            "kind": _col("authorization, capture, refund, decline or failure", NONE),
            "amount_minor": _col("amount in minor units", NONE),
            "currency": _col("ISO 4217 currency", NONE),
            "occurred_at": _col("when it happened", NONE),
            "provider_ref": _col("the provider's reference", NONE),
            "detail": _col("decline or failure code", NONE),
            "created_at": _CREATED,
        },
    ),
    "provision_recipients": TableEntry(
        holds="third parties a person may agree to give data to: name, purpose, items, contact",
        purpose="let people consent to provision recipient by recipient, knowing what goes where",
        retention="while provisions or consents cite it; retired recipients are kept, not deleted",
        rule=Keep.WHILE_IN_USE,
        readers=_readers(A, PO, AU, SUBJECT, SERVICE),
        subject_link=None,
        columns={
            "id": _id("recipient"),
            "name": _col("the recipient's name", NONE),
            "purpose": _col("what the recipient does with the data, as shown to people", NONE),
            "items": _col("register items it may receive, fixed at registration", NONE),
            "contact": _col("the recipient's address or contact", NONE),
            "retired_at": _col("when it stopped receiving data and taking consents", NONE),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "provision_consents": TableEntry(
        holds="a person's agreement to provision to one recipient, and its withdrawal",
        purpose="provide data to a third party only with the person's consent for that recipient",
        retention="while the person exists; withdrawn rows kept as history, like consents",
        rule=Keep.WITH_PERSON,
        readers=_readers(PO, AU, SUBJECT, SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("provision consent"),
            "subject_id": _col("the person who agreed", PSEUDO),
            "recipient_id": _col("the recipient agreed to", PERSONAL),
            "granted_at": _col("when the person agreed", PERSONAL),
            "withdrawn_at": _col("when the person withdrew, if they did", PERSONAL),
            "created_at": _CREATED,
            "updated_at": _UPDATED,
        },
    ),
    "provisions": TableEntry(
        holds=(
            "each handing over of a person's data to a third party: recipient, basis, items, scope,"
            " time, operator and the SHA-256 of what was given (never the data itself)"
        ),
        purpose="record every third-party provision and show it to the person (APPI Art. 29)",
        retention=(
            f"{_PROVISIONS.describe()} from the provision (APPI record-keeping), also after the"
            " person is deleted: it holds no contact or biometric data; then purged by the"
            " retention sweep"
        ),
        rule=_PROVISIONS,
        readers=_readers(PO, AU, SUBJECT, SERVICE),
        subject_link="subject_id",
        columns={
            "id": _id("provision"),
            "subject_id": _col("whose data was provided", PSEUDO),
            "recipient_id": _col("the registered recipient (consent basis)", PERSONAL),
            "recipient_name": _col("who received it (recipient or authority)", PERSONAL),
            "basis": _col("consent or law_enforcement", PERSONAL),
            "basis_reference": _col("warrant or inquiry number of a release", PERSONAL),
            "consent_id": _col("the provision consent relied on", NONE),
            "items": _col("register items provided", PERSONAL),
            "venue_id": _col("venue the data was limited to, if any", PERSONAL),
            "period_start": _col("start of the period the data was limited to", PERSONAL),
            "period_end": _col("end of that period", PERSONAL),
            "provided_at": _col("when it was handed over", PERSONAL),
            "operator_id": _col("the privacy officer who handed it over", NONE),
            "content_sha256": _col("SHA-256 of the exact bytes handed over", NONE),
            "created_at": _CREATED,
        },
    ),
    "alembic_version": TableEntry(
        holds="the schema revision the database is at",
        purpose="let migrations know where to start",
        retention="the life of the database",
        rule=Keep.LIFE_OF_SERVICE,
        readers=_readers(A, SERVICE),
        subject_link=None,
        columns={"version_num": _col("alembic revision id", NONE)},
    ),
}


def items() -> Iterator[RegisterItem]:
    """Every registered column, with its table's purpose, retention and readers filled in."""
    for table_name, table in REGISTER.items():
        for column_name, column in table.columns.items():
            yield RegisterItem(
                table=table_name,
                column=column_name,
                holds=column.holds,
                purpose=column.purpose or table.purpose,
                category=column.category,
                retention=column.retention or table.retention,
                readers=column.readers or table.readers,
            )


def schema_columns(metadata: MetaData) -> dict[str, set[str]]:
    """Table name -> column names of ``metadata`` (the models, or a reflected database)."""
    return {
        name: {column.name for column in table.columns} for name, table in metadata.tables.items()
    }


def problems(tables: Mapping[str, Iterable[str]], *, infrastructure: bool = False) -> list[str]:
    """Differences between ``tables`` (name -> column names) and the register.

    ``infrastructure=False`` compares with the models, which lack ``alembic_version``; pass True
    when ``tables`` was reflected from a migrated database.
    """
    found: list[str] = []
    expected = dict(REGISTER)
    if not infrastructure:
        for name in INFRASTRUCTURE_TABLES:
            expected.pop(name, None)
    for table_name in sorted(set(tables) - set(expected)):
        found.append(f"table {table_name} is not in the data-lifecycle register")
    for table_name in sorted(set(expected) - set(tables)):
        found.append(f"register names table {table_name}, which does not exist")
    for table_name in sorted(set(tables) & set(expected)):
        actual = set(tables[table_name])
        registered = set(expected[table_name].columns)
        for column in sorted(actual - registered):
            found.append(f"column {table_name}.{column} is not in the data-lifecycle register")
        for column in sorted(registered - actual):
            found.append(f"register names column {table_name}.{column}, which does not exist")
        link = expected[table_name].subject_link
        if link is not None and link not in actual:
            found.append(f"subject_link {table_name}.{link} does not exist")
    return found
