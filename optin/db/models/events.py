"""Decisions a gate made about enrolled people. Strangers never produce rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Double, ForeignKey, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from optin.db.base import Base, CreatedAt, UUIDPrimaryKey, str_enum
from optin.db.enums import EventOutcome, Purpose


class Event(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_venue_id_occurred_at", "venue_id", "occurred_at"),
        # The event's venue must be its gate's venue: venue-scoped reads (staff see only their
        # venue) can then trust venue_id.
        ForeignKeyConstraint(["gate_id", "venue_id"], ["gates.id", "gates.venue_id"]),
    )

    venue_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("venues.id"))
    gate_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # SET NULL keeps aggregate history if a deletion ever reaches the row before the purge does.
    subject_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subjects.id", ondelete="SET NULL"), index=True
    )
    purpose: Mapped[Purpose] = mapped_column(str_enum(Purpose, "purpose"))
    outcome: Mapped[EventOutcome] = mapped_column(str_enum(EventOutcome, "outcome"))
    distance: Mapped[float] = mapped_column(Double)
    # When the gate decided (gate clock); created_at is when the server received it.
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    # Chosen by the gate so a retried upload is stored once.
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
