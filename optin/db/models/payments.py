"""Payment at the gate: tokenised payment methods, PINs, charges and the append-only ledger.

No card number ever reaches these tables: a payment method is the provider's token, sealed under
the person's data key (so deletion shreds it with everything else). Charges keep their amounts
after a deletion, without the person: bookkeeping law wants the sums, not who paid them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from optin.db.base import Base, CreatedAt, Timestamps, UUIDPrimaryKey, str_enum
from optin.db.enums import ChargeStatus, LedgerKind


class PaymentMethod(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "payment_methods"
    __table_args__ = (
        # One live method per person: the gate never has to choose.
        Index(
            "uq_payment_methods_live",
            "subject_id",
            unique=True,
            sqlite_where=text("removed_at IS NULL"),
            postgresql_where=text("removed_at IS NULL"),
        ),
    )

    subject_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    # The provider's token, sealed under the person's data key.
    token_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # What the person sees, e.g. "VISA 4242" (brand and last four digits, from the provider).
    label: Mapped[str] = mapped_column(String(64))
    removed_at: Mapped[datetime | None]


class PaymentPin(UUIDPrimaryKey, Timestamps, Base):
    """The step-up PIN for amounts above a venue's limit (argon2id), with its lock-out."""

    __tablename__ = "payment_pins"
    __table_args__ = (CheckConstraint("failed_attempts >= 0", name="failed_non_negative"),)

    subject_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), unique=True
    )
    pin_hash: Mapped[str] = mapped_column(String(255))
    failed_attempts: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None]


class Charge(UUIDPrimaryKey, Timestamps, Base):
    """One purchase at a till or gate. ``(venue_id, idempotency_key)`` is unique: a retried
    request finds the same row, so nobody is charged twice."""

    __tablename__ = "charges"
    __table_args__ = (
        UniqueConstraint("venue_id", "idempotency_key"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refund_within_amount"
        ),
        CheckConstraint("length(currency) = 3", name="currency_iso4217"),
        Index("ix_charges_venue_id_created_at", "venue_id", "created_at"),
    )

    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"))
    gate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("gates.id"), index=True)
    # NULL after the person is deleted: the amounts stay, the person does not.
    subject_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subjects.id", ondelete="SET NULL"), index=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(128))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    item: Mapped[str] = mapped_column(String(200))
    status: Mapped[ChargeStatus] = mapped_column(
        str_enum(ChargeStatus, "status"), default=ChargeStatus.PENDING
    )
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_payment_id: Mapped[str | None] = mapped_column(String(128))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))


class LedgerEntry(UUIDPrimaryKey, CreatedAt, Base):
    """Append-only money movements and attempts; never updated, never deleted."""

    __tablename__ = "ledger_entries"

    charge_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("charges.id"), index=True)
    kind: Mapped[LedgerKind] = mapped_column(str_enum(LedgerKind, "kind"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime]
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    # A provider's decline or failure code, never card data.
    detail: Mapped[str | None] = mapped_column(String(200))
