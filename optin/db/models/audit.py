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


class AuditHead(Base):
    """The chain's tip, one row. Appending updates it first, which takes the write lock on both
    backends: appends serialise, and deleting the newest entries is caught by ``verify``."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(UUIDPrimaryKey, Base):
    """An Ed25519 signature over the chain up to ``seq``: rewriting the whole chain after a
    checkpoint needs the signing key as well as database access."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
