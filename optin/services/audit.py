"""The audit log: every operator action and every look at personal data, hash-chained.

Each entry's hash covers its own fields and the previous entry's hash, so changing, deleting or
reordering a row breaks the chain from there on. Entries are written in the caller's transaction:
the action and its record commit together or not at all. ``details`` carries identifiers and
counts only; callers never pass templates, photos or contact data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from optin.db.base import utcnow, uuid7
from optin.db.enums import ActorKind
from optin.db.models import AuditEntry, AuditHead

GENESIS_HASH: Final = "0" * 64
MAX_REASON: Final = 500


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str | None = None

    @classmethod
    def operator(cls, operator_id: UUID) -> Actor:
        return cls(ActorKind.OPERATOR, str(operator_id))

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, None)


def entry_hash(
    *,
    seq: int,
    occurred_at: datetime,
    actor_kind: str,
    actor_id: str | None,
    action: str,
    subject_ref: str | None,
    reason: str | None,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over a canonical JSON of the entry: the same bytes on every backend."""
    canonical = json.dumps(
        {
            "seq": seq,
            # Microseconds, UTC: SQLite and PostgreSQL both keep them exactly.
            "occurred_at": occurred_at.isoformat(timespec="microseconds"),
            "actor_kind": str(actor_kind),
            "actor_id": actor_id,
            "action": action,
            "subject_ref": subject_ref,
            "reason": reason,
            "details": details,
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    return hashlib.sha256(canonical).hexdigest()


async def _advance_head(session: AsyncSession) -> tuple[int, str]:
    """Take the next number and the previous hash under the head row's write lock."""
    statement = (
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.last_hash)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        # A database built from the models rather than the migrations: create the tip once.
        await session.execute(insert(AuditHead).values(id=1, seq=1, last_hash=GENESIS_HASH))
        return 1, GENESIS_HASH
    return int(row[0]), str(row[1])


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    subject_id: UUID | None = None,
    reason: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry inside the caller's transaction (the caller commits)."""
    seq, prev_hash = await _advance_head(session)
    occurred_at = utcnow()
    clean_reason = reason.strip()[:MAX_REASON] if reason else None
    detail_map = dict(details or {})
    subject_ref = str(subject_id) if subject_id else None
    digest = entry_hash(
        seq=seq,
        occurred_at=occurred_at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        subject_ref=subject_ref,
        reason=clean_reason,
        details=detail_map,
        prev_hash=prev_hash,
    )
    entry = AuditEntry(
        id=uuid7(),
        seq=seq,
        occurred_at=occurred_at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        subject_ref=subject_ref,
        reason=clean_reason,
        details=detail_map,
        prev_hash=prev_hash,
        entry_hash=digest,
    )
    session.add(entry)
    await session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(last_hash=digest)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return entry
