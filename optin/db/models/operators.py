"""Console operators and their credentials."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from optin.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum
from optin.db.enums import OperatorRole


class Operator(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "operators"
    __table_args__ = (
        # Venue staff see only their own venue, so they must have one.
        CheckConstraint(
            "role <> 'venue_staff' OR venue_id IS NOT NULL", name="venue_staff_has_venue"
        ),
        CheckConstraint("failed_logins >= 0", name="failed_logins_non_negative"),
    )

    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[OperatorRole] = mapped_column(str_enum(OperatorRole, "role"))
    venue_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("venues.id"), index=True)
    totp_secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    failed_logins: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    locked_until: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
