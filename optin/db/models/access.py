"""One-time sign-in links for the self-service portal."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from optin.db.base import Base, Timestamps, UUIDPrimaryKey


class PortalSession(UUIDPrimaryKey, Timestamps, Base):
    """A signed-in portal session: the cookie holds a random token, the table only its HMAC."""

    __tablename__ = "portal_sessions"

    subject_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_digest: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class SignInLink(UUIDPrimaryKey, Timestamps, Base):
    """A link mailed to an enrolled person; only its HMAC is stored, and it works once."""

    __tablename__ = "sign_in_links"

    subject_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
