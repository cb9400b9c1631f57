"""Console operators and their credentials."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, LargeBinary, String, text
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
    # Leak prevention: sign-in only from these networks (CIDR) and inside these weekly windows
    # (e.g. "mon-fri 08:00-19:00", in the console's time zone). Empty lists admit nobody.
    allowed_networks: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    allowed_hours: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    # The last TOTP time step accepted: a code works once, even inside its 30 s window.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    last_sign_in_at: Mapped[datetime | None]


class OperatorSession(UUIDPrimaryKey, Timestamps, Base):
    """A signed-in console session: the cookie holds a random token, the table only its HMAC."""

    __tablename__ = "operator_sessions"

    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operators.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_digest: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    # signed_out, idle, limit, window, network, disabled, device_revoked, ended_by_administrator
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # The device it was opened from: network address and browser, for the sessions view and
    # for every audit entry the session writes.
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    # The registered device it was opened on (None only when devices are not required).
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("operator_devices.id"), index=True
    )


class OperatorDevice(UUIDPrimaryKey, Timestamps, Base):
    """A browser registered for one operator: sign-in works only from such a device.

    An administrator issues a one-time registration code (only its HMAC is stored); the operator
    opens it in their browser, which then holds a long-lived device cookie (again, only its HMAC
    is stored here). A revoked device signs nobody in and ends the sessions opened on it.
    """

    __tablename__ = "operator_devices"

    operator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("operators.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    registration_digest: Mapped[str] = mapped_column(String(64), unique=True)
    registration_expires_at: Mapped[datetime]
    # Set once the code was used: from then on the code is spent and the cookie is the device.
    registered_at: Mapped[datetime | None]
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The browser the code was opened in, so the operator can tell their devices apart.
    user_agent: Mapped[str | None] = mapped_column(String(200))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
