"""Appends and checkpoints from many sessions at once, as several requests and workers make them,
and the server's own periodic checkpoint. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from enrollment_app.asgi import create_app
from optin.config import Settings
from optin.crypto.signing import Signer
from optin.db.engine import session_factory
from optin.db.models import AuditCheckpoint, AuditEntry
from optin.runtime import open_keys
from optin.services.audit import Actor, checkpoint, record, verify_chain

WRITERS = 20


async def test_concurrent_appends_make_one_contiguous_chain(db_engine: AsyncEngine) -> None:
    sessions = session_factory(db_engine)
    start = asyncio.Event()

    async def append(n: int) -> int:
        async with sessions() as session:
            await start.wait()  # all twenty begin together, so they really contend
            entry = await record(session, Actor.system(), "test.concurrent", details={"n": n})
            await session.commit()
            return entry.seq

    tasks = [asyncio.create_task(append(n)) for n in range(WRITERS)]
    await asyncio.sleep(0.05)
    start.set()
    seqs = await asyncio.gather(*tasks)
    assert sorted(seqs) == list(range(1, WRITERS + 1))

    async with sessions() as session:
        query = select(AuditEntry.seq).order_by(AuditEntry.seq)
        stored = list((await session.scalars(query)).all())
        numbers = sorted(d["n"] for d in (await session.scalars(select(AuditEntry.details))).all())
    assert stored == list(range(1, WRITERS + 1))
    assert numbers == list(range(WRITERS))

    signer = Signer.generate()
    async with sessions() as session:
        report = await verify_chain(session, signer.verifier)
    assert report.ok, report
    assert report.entries == WRITERS


async def test_concurrent_checkpoints_sign_the_tip_once(db_engine: AsyncEngine) -> None:
    sessions = session_factory(db_engine)
    signer = Signer.generate()
    async with sessions() as session:
        for _ in range(3):
            await record(session, Actor.system(), "test.action")
        await session.commit()

    async def sign() -> int | None:
        async with sessions() as session:
            made = await checkpoint(session, signer)
            await session.commit()
            return made.seq if made else None

    results = await asyncio.gather(*(sign() for _ in range(5)))
    assert sorted(results, key=lambda seq: seq or 0) == [None, None, None, None, 3]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1
        assert (await verify_chain(session, signer.verifier)).ok


async def test_the_server_checkpoints_new_entries_on_its_own(
    database_url: str, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    base = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")})
    settings = dataclasses.replace(
        base,
        database_url=database_url,
        console=dataclasses.replace(base.console, audit_checkpoint_seconds=0.05),
    )
    sessions = session_factory(db_engine)
    async with sessions() as session:
        await record(session, Actor.system(), "test.action")
        await session.commit()

    async def signed_seqs() -> list[int]:
        async with sessions() as session:
            query = select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq)
            return list((await session.scalars(query)).all())

    async def wait_for(seqs: list[int]) -> None:
        for _ in range(200):
            if await signed_seqs() == seqs:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"checkpoints are {await signed_seqs()}, expected {seqs}")

    async with AsyncTestClient(create_app(settings)):
        await wait_for([1])
        async with sessions() as session:
            await record(session, Actor.system(), "test.action")
            await session.commit()
        await wait_for([1, 2])
        await asyncio.sleep(0.2)  # several more rounds: nothing new, nothing signed
        assert await signed_seqs() == [1, 2]

    async with sessions() as session:
        report = await verify_chain(session, open_keys(settings).signer.verifier)
    assert report.ok, report
    assert (report.entries, report.checkpoints) == (2, 2)
