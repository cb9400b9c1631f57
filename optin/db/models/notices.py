"""Privacy notices: the exact texts people consent to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from optin.db.base import Base, Timestamps, UUIDPrimaryKey, str_enum
from optin.db.enums import Language


class Notice(UUIDPrimaryKey, Timestamps, Base):
    """One language of one notice version. Published texts are never edited: a change is a new
    version, and a new purpose needs fresh consent."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("version", "language"),
        CheckConstraint("version > 0", name="version_positive"),
        CheckConstraint("length(text_sha256) = 64", name="text_sha256_hex"),
    )

    version: Mapped[int]
    language: Mapped[Language] = mapped_column(str_enum(Language, "language"))
    # A JSON list of Purpose values the notice covers.
    purposes: Mapped[list[str]] = mapped_column(JSON)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    effective_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    # The venues this notice names (UUID strings): consent to a venue cites a notice naming it.
    venue_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Purposes whose meaning this version changes: consents given on earlier versions for them
    # need renewal once this version is in effect.
    changed_purposes: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
