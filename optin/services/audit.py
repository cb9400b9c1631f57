"""The audit log: every operator action and every look at personal data, hash-chained.

Each entry's hash covers its own fields and the previous entry's hash, so changing, deleting or
reordering a row breaks the chain from there on. Entries are written in the caller's transaction:
the action and its record commit together or not at all. ``details`` carries identifiers and
counts only; callers never pass templates, photos or contact data.

The chain alone cannot tell a rewritten history from the real one: whoever can write to the
database can recompute every hash and the head. ``checkpoint`` therefore signs the tip with the
service's Ed25519 key now and then, and ``verify_chain`` checks the chain, the head and every
checkpoint, naming the first place where they disagree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol
from uuid import UUID

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optin.crypto._b64 import b64url_decode, b64url_encode
from optin.crypto.signing import canonical_json
from optin.db.base import utcnow, uuid7
from optin.db.enums import ActorKind
from optin.db.models import AuditCheckpoint, AuditEntry, AuditHead
from optin.errors import OptinError

GENESIS_HASH: Final = "0" * 64
MAX_REASON: Final = 500
# Entries read per query when verifying: memory stays flat however long the log grows.
VERIFY_BATCH: Final = 1000
# Names what a checkpoint signature is for, so it can never pass for a receipt or the reverse.
CHECKPOINT_TYPE: Final = "optin.audit-checkpoint"


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


# --- Checkpoints ---------------------------------------------------------------------------------


class AuditChainBroken(OptinError):
    """The chain's tip disagrees with itself or the head: refuse to sign it."""

    code = "audit-chain-broken"
    title = "Audit log damaged"
    status = 500


class SignatureSigner(Protocol):
    """Anything that makes Ed25519 signatures under one kid, such as a ``Signer``."""

    @property
    def kid(self) -> str: ...

    def sign(self, data: bytes) -> bytes: ...


class SignatureChecker(Protocol):
    """A ``Verifier`` or a ``Signer``: anything that checks Ed25519 signatures under one kid."""

    @property
    def kid(self) -> str: ...

    def verify(self, data: bytes, signature: bytes) -> bool: ...


def checkpoint_bytes(*, seq: int, entry_hash: str, signed_at: datetime) -> bytes:
    """The exact bytes a checkpoint signature covers (canonical JSON)."""
    return canonical_json(
        {
            "type": CHECKPOINT_TYPE,
            "seq": seq,
            "entry_hash": entry_hash,
            "signed_at": signed_at.isoformat(timespec="microseconds"),
        }
    )


_ENTRY_COLUMNS: Final = (
    AuditEntry.id,
    AuditEntry.seq,
    AuditEntry.occurred_at,
    AuditEntry.actor_kind,
    AuditEntry.actor_id,
    AuditEntry.action,
    AuditEntry.subject_ref,
    AuditEntry.reason,
    AuditEntry.details,
    AuditEntry.prev_hash,
    AuditEntry.entry_hash,
)


def _recomputed_hash(row: Row[Any]) -> str:
    return entry_hash(
        seq=row.seq,
        occurred_at=row.occurred_at,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        action=row.action,
        subject_ref=row.subject_ref,
        reason=row.reason,
        details=row.details,
        prev_hash=row.prev_hash,
    )


async def _newest_entry(session: AsyncSession) -> Row[Any] | None:
    query = select(*_ENTRY_COLUMNS).order_by(AuditEntry.seq.desc()).limit(1)
    return (await session.execute(query)).one_or_none()


async def _newest_checkpoint_seq(session: AsyncSession) -> int | None:
    value = await session.scalar(select(func.max(AuditCheckpoint.seq)))
    return int(value) if value is not None else None


async def checkpoint(session: AsyncSession, signer: SignatureSigner) -> AuditCheckpoint | None:
    """Sign the newest entry's hash; None if the log is empty or its tip is signed already.

    Runs under the head row's write lock, like an append, so the tip cannot move while it is
    signed and two servers checkpointing at once do not both sign it. Refuses (``AuditChainBroken``)
    a tip whose hash does not match its contents or the head: a signature must not vouch for a
    damaged chain. The caller commits.
    """
    # Lock first, read after: on SQLite a transaction that read before it writes cannot take
    # the write lock once another writer has committed, so a read-first check would fail.
    await session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq)
        .execution_options(synchronize_session=False)
    )
    newest = await _newest_entry(session)
    signed_seq = await _newest_checkpoint_seq(session)
    if newest is None or (signed_seq is not None and signed_seq >= newest.seq):
        return None
    head = (await session.execute(select(AuditHead.seq, AuditHead.last_hash))).one_or_none()
    if _recomputed_hash(newest) != newest.entry_hash:
        raise AuditChainBroken(f"audit entry {newest.seq} does not match its hash; not signed")
    if head is None or (head.seq, head.last_hash) != (newest.seq, newest.entry_hash):
        raise AuditChainBroken(
            f"audit entry {newest.seq} is not the chain head's tip; not signed "
            "(run `optin audit verify`)"
        )

    signed_at = utcnow()
    signature = signer.sign(
        checkpoint_bytes(seq=newest.seq, entry_hash=newest.entry_hash, signed_at=signed_at)
    )
    made = AuditCheckpoint(
        id=uuid7(),
        seq=newest.seq,
        entry_hash=newest.entry_hash,
        signed_at=signed_at,
        key_id=signer.kid,
        signature=b64url_encode(signature),
    )
    session.add(made)
    await session.flush()
    return made


# --- Verification --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found. On failure, the first bad place and what is wrong there."""

    ok: bool
    entries: int
    checkpoints: int
    seq: int | None = None
    entry_id: UUID | None = None
    problem: str | None = None

    def summary(self) -> str:
        if self.ok:
            return f"audit log intact: {self.entries} entries, {self.checkpoints} checkpoints"
        return f"audit log damaged: {self.problem}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "seq": self.seq,
            "entry_id": str(self.entry_id) if self.entry_id else None,
            "problem": self.problem,
        }


class _Damage(Exception):
    """Internal: stops the walk at the first bad place."""

    def __init__(self, problem: str, seq: int | None, entry_id: UUID | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.seq = seq
        self.entry_id = entry_id


def _entries_word(count: int) -> str:
    return "entry" if count == 1 else f"{count} entries"


class _Walk:
    """Counts what was checked; raises ``_Damage`` at the first inconsistency."""

    def __init__(self, checker: SignatureChecker) -> None:
        self.checker = checker
        self.entries = 0
        self.checkpoints = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.last_id: UUID | None = None

    def entry(self, row: Row[Any]) -> None:
        seq = int(row.seq)
        expected = self.last_seq + 1
        if seq != expected:
            if self.last_seq == 0:
                missing = "entry 1 is" if seq == 2 else f"entries 1 to {seq - 1} are"
                raise _Damage(f"{missing} missing: the chain starts at {seq}", 1)
            raise _Damage(
                f"entry {expected} is missing: the chain jumps from {self.last_seq} to {seq}",
                expected,
            )
        # Linkage before contents: a row moved to another seq fails here, with the clearer
        # message; a row edited in place keeps its prev_hash and fails the hash check below.
        if row.prev_hash != self.last_hash:
            before = f"entry {self.last_seq}" if self.last_seq else "the start of the chain"
            raise _Damage(
                f"entry {seq} does not follow {before}: prev_hash differs (reordered or replaced)",
                seq,
                row.id,
            )
        if _recomputed_hash(row) != row.entry_hash:
            raise _Damage(
                f"entry {seq} was changed: its hash does not match its contents", seq, row.id
            )
        self.entries += 1
        self.last_seq = seq
        self.last_hash = row.entry_hash
        self.last_id = row.id

    def checkpoint(self, cp: Row[Any], entry: Row[Any] | None) -> None:
        where = f"checkpoint at {cp.seq}"
        try:
            signature = b64url_decode(cp.signature)
        except ValueError:
            signature = b""
        signed = checkpoint_bytes(seq=cp.seq, entry_hash=cp.entry_hash, signed_at=cp.signed_at)
        if cp.key_id != self.checker.kid:
            raise _Damage(
                f"{where} was signed by another key ({cp.key_id}), not {self.checker.kid}",
                cp.seq,
                entry.id if entry else None,
            )
        if not self.checker.verify(signed, signature):
            raise _Damage(f"{where} has a bad signature", cp.seq, entry.id if entry else None)
        if entry is None:
            raise _Damage(
                f"entry {cp.seq} is missing: {where} signed it, but the log ends at "
                f"{self.last_seq}",
                cp.seq,
            )
        if entry.entry_hash != cp.entry_hash:
            raise _Damage(
                f"entry {cp.seq} differs from what {where} signed: the chain was rewritten "
                "up to here",
                cp.seq,
                entry.id,
            )
        self.checkpoints += 1

    def head(self, head: tuple[int, str] | None) -> None:
        if head is None:
            if self.entries:
                raise _Damage("the chain head row is missing", self.last_seq, self.last_id)
            return
        head_seq, head_hash = head
        if head_seq > self.last_seq:
            removed = head_seq - self.last_seq
            raise _Damage(
                f"the newest {_entries_word(removed)} {'was' if removed == 1 else 'were'} "
                f"removed (head says {head_seq}, last entry is {self.last_seq})",
                self.last_seq + 1,
            )
        if head_seq < self.last_seq:
            raise _Damage(
                f"entry {head_seq + 1} was added behind the chain head's back "
                f"(head says {head_seq}, last entry is {self.last_seq})",
                head_seq + 1,
            )
        if head_hash != self.last_hash:
            raise _Damage(
                f"entry {self.last_seq} was replaced: the chain head records another hash",
                self.last_seq,
                self.last_id,
            )


async def _read_in_one_snapshot(session: AsyncSession) -> None:
    """On PostgreSQL, read everything in one REPEATABLE READ snapshot, so entries appended while
    the walk runs are not mistaken for a head that ran ahead of its entries. SQLite (WAL) keeps
    one snapshot per read transaction already."""
    if session.in_transaction():
        return  # too late to choose; a caller mid-transaction keeps its own isolation
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


async def verify_chain(session: AsyncSession, checker: SignatureChecker) -> ChainReport:
    """Walk the whole log in seq order and report the first place where it was tampered with.

    Per entry: seq contiguous from 1 (a gap is a deleted entry), prev_hash equal to the previous
    entry's hash (a moved or replaced entry), the hash recomputed from its contents (an edited
    entry). Then: every checkpoint's signature, and that the entry at its seq still has the hash
    it signed (a chain rewritten with fresh hashes); and that the head row names the last entry
    (newest entries deleted). Limit: deleting the newest entries *and* rewinding the head is
    only caught when a checkpoint covers a deleted entry. Read-only; pass a fresh session.
    """
    await _read_in_one_snapshot(session)
    walk = _Walk(checker)
    try:
        after = 0
        while True:
            rows = (
                await session.execute(
                    select(*_ENTRY_COLUMNS)
                    .where(AuditEntry.seq > after)
                    .order_by(AuditEntry.seq)
                    .limit(VERIFY_BATCH)
                )
            ).all()
            if not rows:
                break
            by_seq = {int(row.seq): row for row in rows}
            # Checkpoints are checked together with the batch holding their seq, so the first
            # bad place is reported whichever kind of check finds it.
            checkpoints = iter(await _checkpoints_between(session, after, int(rows[-1].seq)))
            pending = next(checkpoints, None)
            for row in rows:
                walk.entry(row)
                while pending is not None and pending.seq <= row.seq:
                    walk.checkpoint(pending, by_seq.get(int(pending.seq)))
                    pending = next(checkpoints, None)
            after = int(rows[-1].seq)
        # Checkpoints past the last entry sign entries that are no longer there.
        for cp in await _checkpoints_between(session, after, None):
            walk.checkpoint(cp, None)
        head = (await session.execute(select(AuditHead.seq, AuditHead.last_hash))).first()
        walk.head(None if head is None else (int(head.seq), str(head.last_hash)))
    except _Damage as damage:
        return ChainReport(
            ok=False,
            entries=walk.entries,
            checkpoints=walk.checkpoints,
            seq=damage.seq,
            entry_id=damage.entry_id,
            problem=damage.problem,
        )
    return ChainReport(ok=True, entries=walk.entries, checkpoints=walk.checkpoints)


async def _checkpoints_between(session: AsyncSession, after: int, upto: int | None) -> list[Any]:
    query = (
        select(
            AuditCheckpoint.seq,
            AuditCheckpoint.entry_hash,
            AuditCheckpoint.signed_at,
            AuditCheckpoint.key_id,
            AuditCheckpoint.signature,
        )
        .where(AuditCheckpoint.seq > after)
        .order_by(AuditCheckpoint.seq)
    )
    if upto is not None:
        query = query.where(AuditCheckpoint.seq <= upto)
    return list((await session.execute(query)).all())
