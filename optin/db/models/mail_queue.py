"""Mail waiting to be sent: queued in the transaction that makes it due, sent in the background.

A row names whom to tell and what, never the address or the text: the sender reads the contact
and writes the mail in the person's language when it sends, and deletes the row once the mail
is handed over. A person deleted meanwhile gets nothing (the row goes with them).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from optin.db.base import Base, Timestamps, UUIDPrimaryKey


class QueuedMail(UUIDPrimaryKey, Timestamps, Base):
    """One mail to one person; unique per kind, person and notice version, so queueing the same
    announcement twice queues it once."""

    __tablename__ = "mail_queue"
    __table_args__ = (UniqueConstraint("kind", "subject_id", "notice_version"),)

    kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("subjects.id", ondelete="CASCADE"), index=True
    )
    notice_version: Mapped[int]
    # Purpose values the mail names (a JSON list).
    purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    attempts: Mapped[int] = mapped_column(default=0)
    # A sender that claimed the row holds it until then; after that (it crashed) another may.
    claimed_until: Mapped[datetime | None]
    # The code of the last failure (e.g. mail-failed), never the server's reply.
    last_error: Mapped[str | None] = mapped_column(String(40))
