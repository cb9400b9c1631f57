"""The append-only, hash-chained audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from optin.db.base import Base, UUIDPrimaryKey, str_enum
from optin.db.enums import ActorKind


class AuditEntry(UUIDPrimaryKey, Base):
    """One audited action. ``entry_hash`` covers this entry and ``prev_hash``, so editing or
    deleting any entry breaks the chain from there on. No foreign keys: the log must outlive the
    rows it talks about. ``details`` never holds biometric or contact data."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    occurred_at: Mapped[datetime]
    actor_kind: Mapped[ActorKind] = mapped_column(str_enum(ActorKind, "actor_kind"))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject_ref: Mapped[str | None] = mapped_column(String(96), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
