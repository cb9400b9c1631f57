"""Third-party provision: recipients a person can agree to, those agreements, and the record of
every provision made (with the person's consent, or to law enforcement on a legal basis).

A provision row records who received what, when, on which basis and the SHA-256 of the exact
bytes handed over; the data itself is never stored a second time. Rows outlive the person's
deletion: the law asks for the record (APPI Art. 29), and it holds no contact or biometric data.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from optin.db.base import Base, CreatedAt, Timestamps, UUIDPrimaryKey, str_enum
from optin.db.enums import ProvisionBasis


class ProvisionRecipient(UUIDPrimaryKey, Timestamps, Base):
    """A third party people may agree to give data to. Its purpose and items are fixed when it
    is registered, so a consent always covers exactly what the person was shown."""

    __tablename__ = "provision_recipients"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    # What the recipient does with the data, in the words shown to the person.
    purpose: Mapped[str] = mapped_column(Text)
    # Register item names (e.g. "events"), see optin.services.provisions.PROVIDABLE.
    items: Mapped[list[str]] = mapped_column(JSON)
    # The recipient's address or contact, for the provision record.
    contact: Mapped[str] = mapped_column(String(300))
    # A retired recipient gets nothing more, and nobody can consent to it any longer.
    retired_at: Mapped[datetime | None]


class ProvisionConsent(UUIDPrimaryKey, Timestamps, Base):
    """A person's agreement to provision to one recipient; withdrawal keeps the row."""

    __tablename__ = "provision_consents"
    __table_args__ = (
        # At most one live consent per person and recipient.
        Index(
            "uq_provision_consents_live",
            "subject_id",
            "recipient_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL"),
            postgresql_where=text("withdrawn_at IS NULL"),
        ),
        CheckConstraint(
            "withdrawn_at IS NULL OR withdrawn_at >= granted_at", name="withdrawn_after_granted"
        ),
    )

    subject_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    recipient_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("provision_recipients.id"), index=True
    )
    granted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class Provision(UUIDPrimaryKey, CreatedAt, Base):
    """One handing over of a person's data to a third party. Append-only."""

    __tablename__ = "provisions"
    __table_args__ = (
        CheckConstraint(
            "basis <> 'law_enforcement'"
            " OR (basis_reference IS NOT NULL AND length(trim(basis_reference)) > 0)",
            name="law_enforcement_has_reference",
        ),
        CheckConstraint(
            "basis <> 'consent' OR (recipient_id IS NOT NULL AND consent_id IS NOT NULL)",
            name="consent_has_recipient",
        ),
        CheckConstraint("length(content_sha256) = 64", name="content_sha256_hex"),
    )

    subject_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subjects.id"), index=True)
    # The registered recipient (consent); NULL for an authority named in a release.
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("provision_recipients.id"))
    recipient_name: Mapped[str] = mapped_column(String(200))
    basis: Mapped[ProvisionBasis] = mapped_column(str_enum(ProvisionBasis, "basis"))
    # The warrant or inquiry number a release relies on.
    basis_reference: Mapped[str | None] = mapped_column(String(200))
    # The consent a provision relied on.
    consent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("provision_consents.id"))
    items: Mapped[list[str]] = mapped_column(JSON)
    # What the data was limited to: one venue, a period (UTC instants), or everything.
    venue_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("venues.id"))
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    provided_at: Mapped[datetime]
    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operators.id"))
    content_sha256: Mapped[str] = mapped_column(String(64))
