"""Entry products a venue offers and the entitlements enrolled people hold."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from optin.db.base import Base, Timestamps, UUIDPrimaryKey


class EntryProduct(UUIDPrimaryKey, Timestamps, Base):
    """A way in: a day pass, or the stay pass that comes with enrollment."""

    __tablename__ = "entry_products"
    __table_args__ = (
        UniqueConstraint("venue_id", "code"),
        CheckConstraint("valid_days IS NULL OR valid_days > 0", name="valid_days_positive"),
    )

    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    # None: valid for the whole stay (until the trip ends).
    valid_days: Mapped[int | None] = mapped_column(Integer)
    included_with_enrollment: Mapped[bool] = mapped_column(default=False)


class Entitlement(UUIDPrimaryKey, Timestamps, Base):
    """One person may enter one venue between two times (granted at enrollment or bought)."""

    __tablename__ = "entitlements"
    __table_args__ = (CheckConstraint("valid_until > valid_from", name="valid_period"),)

    subject_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("entry_products.id"))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
