"""The audit chain against someone with write access to the database: every edit, deletion,
reordering or forged signature is reported at the right entry. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from optin.crypto._b64 import b64url_decode, b64url_encode
from optin.crypto.signing import Signer
from optin.db.engine import session_factory
from optin.db.models import AuditCheckpoint, AuditEntry
from optin.services import audit
from optin.services.audit import (
    Actor,
    AuditChainBroken,
    ChainReport,
    checkpoint,
    checkpoint_bytes,
    entry_hash,
    record,
    verify_chain,
)


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Batches of 3 over 8 entries: every check also runs across a batch boundary.
    monkeypatch.setattr(audit, "VERIFY_BATCH", 3)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate()


async def _write(engine: AsyncEngine, count: int) -> None:
    async with session_factory(engine)() as session:
        for n in range(count):
            await record(
                session,
                Actor.system(),
                "test.action",
                reason=f"reason {n}",
                details={"n": n, "note": "ü"},
            )
        await session.commit()


async def _checkpoint(engine: AsyncEngine, signer: Signer) -> AuditCheckpoint | None:
    async with session_factory(engine)() as session:
        made = await checkpoint(session, signer)
        await session.commit()
        return made


async def _verify(engine: AsyncEngine, signer: Signer) -> ChainReport:
    async with session_factory(engine)() as session:
        return await verify_chain(session, signer.verifier)


async def _sql(engine: AsyncEngine, *statements: str, **params: Any) -> None:
    async with engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement), params)


async def _entry(engine: AsyncEngine, seq: int) -> AuditEntry:
    async with session_factory(engine)() as session:
        return (await session.scalars(select(AuditEntry).where(AuditEntry.seq == seq))).one()


@pytest.fixture
async def eight(db_engine: AsyncEngine, signer: Signer) -> AsyncEngine:
    """Eight entries, a checkpoint at 5, three more entries."""
    await _write(db_engine, 5)
    assert await _checkpoint(db_engine, signer) is not None
    await _write(db_engine, 3)
    return db_engine


async def test_an_empty_log_is_intact(db_engine: AsyncEngine, signer: Signer) -> None:
    report = await _verify(db_engine, signer)
    assert report == ChainReport(ok=True, entries=0, checkpoints=0)
    assert await _checkpoint(db_engine, signer) is None


async def test_an_intact_log_verifies(
    eight: AsyncEngine, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = await _verify(eight, signer)
    assert report.ok, report
    assert (report.entries, report.checkpoints) == (8, 1)
    assert report.summary() == "audit log intact: 8 entries, 1 checkpoints"
    monkeypatch.setattr(audit, "VERIFY_BATCH", 1000)
    assert (await _verify(eight, signer)).ok


async def test_checkpoint_signs_the_newest_entry_once(
    db_engine: AsyncEngine, signer: Signer
) -> None:
    await _write(db_engine, 2)
    made = await _checkpoint(db_engine, signer)
    assert made is not None
    newest = await _entry(db_engine, 2)
    assert (made.seq, made.entry_hash, made.key_id) == (2, newest.entry_hash, signer.kid)
    assert signer.verifier.verify(
        checkpoint_bytes(seq=2, entry_hash=newest.entry_hash, signed_at=made.signed_at),
        b64url_decode(made.signature),
    )
    assert await _checkpoint(db_engine, signer) is None  # nothing new
    await _write(db_engine, 1)
    again = await _checkpoint(db_engine, signer)
    assert again is not None
    assert again.seq == 3
    assert (await _verify(db_engine, signer)).checkpoints == 2


async def test_checkpoint_refuses_to_sign_a_damaged_tip(
    db_engine: AsyncEngine, signer: Signer
) -> None:
    await _write(db_engine, 3)
    await _sql(db_engine, "UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 3")
    with pytest.raises(AuditChainBroken, match="entry 3"):
        await _checkpoint(db_engine, signer)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("reason", "'a different reason'"),
        ("details", """'{"n": 99, "note": "ü"}'"""),
        ("action", "'subject.viewed'"),
        ("actor_id", "'someone-else'"),
    ],
)
async def test_an_edited_entry_is_named(
    eight: AsyncEngine, signer: Signer, column: str, value: str
) -> None:
    victim = await _entry(eight, 4)
    await _sql(eight, f"UPDATE audit_log SET {column} = {value} WHERE seq = 4")
    report = await _verify(eight, signer)
    assert not report.ok
    assert (report.seq, report.entry_id) == (4, victim.id)
    assert report.problem == "entry 4 was changed: its hash does not match its contents"
    assert report.entries == 3


async def test_a_deleted_middle_entry_is_named(eight: AsyncEngine, signer: Signer) -> None:
    await _sql(eight, "DELETE FROM audit_log WHERE seq = 4")
    report = await _verify(eight, signer)
    assert (report.ok, report.seq) == (False, 4)
    assert report.problem == "entry 4 is missing: the chain jumps from 3 to 5"


async def test_a_deleted_first_entry_is_named(eight: AsyncEngine, signer: Signer) -> None:
    await _sql(eight, "DELETE FROM audit_log WHERE seq = 1")
    report = await _verify(eight, signer)
    assert (report.ok, report.seq) == (False, 1)
    assert report.problem == "entry 1 is missing: the chain starts at 2"


async def test_deleted_newest_entries_are_caught_by_the_head(
    eight: AsyncEngine, signer: Signer
) -> None:
    await _sql(eight, "DELETE FROM audit_log WHERE seq = 8")
    report = await _verify(eight, signer)
    assert (report.ok, report.seq) == (False, 8)
    assert report.problem == "the newest entry was removed (head says 8, last entry is 7)"
    await _sql(eight, "DELETE FROM audit_log WHERE seq = 7")
    report = await _verify(eight, signer)
    assert report.problem == "the newest 2 entries were removed (head says 8, last entry is 6)"
    assert report.seq == 7


async def test_deleted_newest_entry_with_the_head_rewound_is_caught_by_a_checkpoint(
    db_engine: AsyncEngine, signer: Signer
) -> None:
    await _write(db_engine, 5)
    assert await _checkpoint(db_engine, signer) is not None  # signs entry 5
    fourth = await _entry(db_engine, 4)
    await _sql(
        db_engine,
        "DELETE FROM audit_log WHERE seq = 5",
        "UPDATE audit_head SET seq = 4, last_hash = :hash WHERE id = 1",
        hash=fourth.entry_hash,
    )
    report = await _verify(db_engine, signer)
    assert (report.ok, report.seq) == (False, 5)
    assert report.problem == "entry 5 is missing: checkpoint at 5 signed it, but the log ends at 4"


async def test_limit_deleting_unsigned_newest_entries_and_rewinding_the_head_goes_unnoticed(
    eight: AsyncEngine, signer: Signer
) -> None:
    """The known limit: entries newer than the last checkpoint (here 6 to 8, signed up to 5) can
    be dropped without trace by someone who also rewinds the head. Frequent checkpoints
    (OPTIN_AUDIT_CHECKPOINT_SECONDS) bound that window; this test pins the limit down."""
    sixth = await _entry(eight, 6)
    await _sql(
        eight,
        "DELETE FROM audit_log WHERE seq > 6",
        "UPDATE audit_head SET seq = 6, last_hash = :hash WHERE id = 1",
        hash=sixth.entry_hash,
    )
    report = await _verify(eight, signer)
    assert report.ok
    assert report.entries == 6


@pytest.mark.parametrize(("first", "second"), [(4, 5), (3, 4), (2, 7)])
async def test_swapped_entries_are_named(
    eight: AsyncEngine, signer: Signer, first: int, second: int
) -> None:
    moved = await _entry(eight, second)
    # Three steps: seq is unique, so a direct swap would violate the constraint midway.
    await _sql(
        eight,
        "UPDATE audit_log SET seq = -1 WHERE seq = :first",
        "UPDATE audit_log SET seq = :first WHERE seq = :second",
        "UPDATE audit_log SET seq = :second WHERE seq = -1",
        first=first,
        second=second,
    )
    report = await _verify(eight, signer)
    assert not report.ok
    assert (report.seq, report.entry_id) == (first, moved.id)
    assert report.problem == (
        f"entry {first} does not follow entry {first - 1}: "
        "prev_hash differs (reordered or replaced)"
    )


async def test_a_forged_checkpoint_signature_is_named(eight: AsyncEngine, signer: Signer) -> None:
    made = (await _verify(eight, signer)).checkpoints
    assert made == 1
    fifth = await _entry(eight, 5)
    # A valid Ed25519 signature over the right bytes, but by a key the attacker holds.
    async with session_factory(eight)() as session:
        cp = (await session.scalars(select(AuditCheckpoint))).one()
        forged = Signer.generate().sign(
            checkpoint_bytes(seq=cp.seq, entry_hash=cp.entry_hash, signed_at=cp.signed_at)
        )
    await _sql(eight, "UPDATE audit_checkpoints SET signature = :sig", sig=b64url_encode(forged))
    report = await _verify(eight, signer)
    assert (report.ok, report.seq, report.entry_id) == (False, 5, fifth.id)
    assert report.problem == "checkpoint at 5 has a bad signature"
    await _sql(eight, "UPDATE audit_checkpoints SET signature = 'not base64url!'")
    assert (await _verify(eight, signer)).problem == "checkpoint at 5 has a bad signature"


async def test_a_checkpoint_moved_to_another_time_is_caught(
    eight: AsyncEngine, signer: Signer
) -> None:
    await _sql(eight, "UPDATE audit_checkpoints SET seq = 6")
    report = await _verify(eight, signer)
    assert (report.ok, report.seq) == (False, 6)
    assert report.problem == "checkpoint at 6 has a bad signature"


async def test_a_chain_rewritten_with_fresh_hashes_is_caught_by_a_checkpoint(
    eight: AsyncEngine, signer: Signer
) -> None:
    """Editing entry 3 and recomputing every later hash and the head passes the chain checks;
    only the signed checkpoint at 5 can tell."""
    async with session_factory(eight)() as session:
        entries = list((await session.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all())
    prev = entries[1].entry_hash
    statements: list[tuple[str, dict[str, Any]]] = []
    for entry in entries[2:]:
        reason = "rewritten" if entry.seq == 3 else entry.reason
        digest = entry_hash(
            seq=entry.seq,
            occurred_at=entry.occurred_at,
            actor_kind=entry.actor_kind,
            actor_id=entry.actor_id,
            action=entry.action,
            subject_ref=entry.subject_ref,
            reason=reason,
            details=entry.details,
            prev_hash=prev,
        )
        statements.append(
            (
                "UPDATE audit_log SET reason = :reason, prev_hash = :prev, entry_hash = :digest "
                "WHERE seq = :seq",
                {"reason": reason, "prev": prev, "digest": digest, "seq": entry.seq},
            )
        )
        prev = digest
    statements.append(("UPDATE audit_head SET last_hash = :digest WHERE id = 1", {"digest": prev}))
    async with eight.begin() as connection:
        for statement, params in statements:
            await connection.execute(text(statement), params)
    report = await _verify(eight, signer)
    assert (report.ok, report.seq) == (False, 5)
    assert report.problem == (
        "entry 5 differs from what checkpoint at 5 signed: the chain was rewritten up to here"
    )
    assert report.entries == 5  # the chain itself checks out up to the checkpoint


async def test_a_head_pointing_elsewhere_is_caught(eight: AsyncEngine, signer: Signer) -> None:
    await _sql(eight, "UPDATE audit_head SET last_hash = :h WHERE id = 1", h="f" * 64)
    report = await _verify(eight, signer)
    assert (report.ok, report.seq) == (False, 8)
    assert report.problem == "entry 8 was replaced: the chain head records another hash"
