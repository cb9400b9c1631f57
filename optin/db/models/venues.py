"""Venues, their gates, and the per-venue change log that gates long-poll."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from optin.db.base import Base, CreatedAt, Timestamps, UUIDPrimaryKey, str_enum
from optin.db.enums import ChangeAction


class Venue(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "venues"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    # The venue key (pseudonyms, gallery transform), wrapped by the master key.
    transform_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    # The last sequence number handed out by the change log; see optin.db.changelog.
    last_change_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    # The change-log number at which the venue key was last rotated: a gate that synced before
    # it gets a fresh snapshot (new pseudonyms, new transform) instead of a delta.
    key_rotated_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    # Payment at the venue: its currency, and the amount (minor units) above which the person
    # must also enter their PIN; 0 means a PIN for every payment.
    currency: Mapped[str] = mapped_column(String(3), default="JPY", server_default=text("'JPY'"))
    pin_above_minor: Mapped[int] = mapped_column(
        BigInteger, default=3000, server_default=text("3000")
    )

    gates: Mapped[list[Gate]] = relationship(back_populates="venue", lazy="raise")


class Gate(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "gates"
    # Lets events reference (gate, venue) together, so an event's venue is its gate's venue.
    __table_args__ = (UniqueConstraint("id", "venue_id"),)

    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # HMAC of the gate's bearer token: the token itself is shown once and never stored.
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    venue: Mapped[Venue] = relationship(back_populates="gates", lazy="raise")


class VenueChange(UUIDPrimaryKey, CreatedAt, Base):
    """An add or revoke of one person in one venue's gallery, numbered per venue.

    Gates see only ``subject_ref``, the venue-specific pseudonym; the central subject id is not
    stored here, so the log a venue receives cannot be joined with another venue's.
    """

    __tablename__ = "venue_changes"
    __table_args__ = (UniqueConstraint("venue_id", "seq"),)

    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[ChangeAction] = mapped_column(str_enum(ChangeAction, "action"))
    subject_ref: Mapped[str] = mapped_column(String(96), index=True)
