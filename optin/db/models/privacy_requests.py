"""Privacy requests (access, deletion, correction, withdrawal, objection) and their handling."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column

from optin.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum
from optin.db.enums import RequestChannel, RequestKind, RequestStatus


class PrivacyRequest(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "privacy_requests"
    # The operator queue lists open requests by due date.
    __table_args__ = (Index("ix_privacy_requests_status_due_at", "status", "due_at"),)

    # Nullable: a request can arrive before the requester is matched to a subject.
    subject_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("subjects.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[RequestKind] = mapped_column(str_enum(RequestKind, "kind"))
    status: Mapped[RequestStatus] = mapped_column(
        str_enum(RequestStatus, "status"), default=RequestStatus.RECEIVED
    )
    channel: Mapped[RequestChannel] = mapped_column(str_enum(RequestChannel, "channel"))
    details: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    due_at: Mapped[datetime]
    # The internal target (APPI: "without delay"), earlier than the statutory ``due_at``.
    target_at: Mapped[datetime | None]
    # How the requester's identity was checked when an operator took the request for them.
    identity_check: Mapped[str | None] = mapped_column(Text)
    verified_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL")
    )
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operators.id", ondelete="SET NULL")
    )
