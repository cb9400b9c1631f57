"""Templates and contact data at rest: ciphertext only, bound to their row, shredded for good.

Runs on SQLite and on the throwaway PostgreSQL server.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from optin.crypto.keys import LocalKeyFileProvider
from optin.crypto.subject_keys import SubjectKeys
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Language, SubjectStatus
from optin.db.models import FaceTemplate, Subject
from optin.errors import CryptoError, KeyDestroyed
from optin.services.subjects import create_subject, read_contact, shred_subject
from optin.services.templates import add_template, load_templates, template_bytes

from support.postgres import find_bin_dir

RETENTION = datetime(2030, 1, 1, tzinfo=UTC)


def _embedding(seed: int) -> np.ndarray:
    # Realistic scale: face_recognition's encodings are ~unit-length 128-d vectors.
    vector = np.random.default_rng(seed).normal(size=128)
    return vector / np.linalg.norm(vector)


async def _enrol(
    session: AsyncSession, keys: SubjectKeys, seed: int, contact: str = "visitor@example.org"
) -> tuple[Subject, FaceTemplate]:
    subject = await create_subject(
        session, keys, locale=Language.EN, retention_until=RETENTION, contact=contact
    )
    template = await add_template(session, keys, subject.id, _embedding(seed))
    await session.commit()
    return subject, template


@pytest.fixture
async def sessions(db_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with session_factory(db_engine)() as session:
        yield session


async def test_round_trip_and_ciphertext_only(
    sessions: AsyncSession, subject_keys: SubjectKeys, database_url: str, db_backend: str
) -> None:
    subject, template = await _enrol(sessions, subject_keys, seed=1)
    loaded = await load_templates(sessions, subject_keys, subject.id)
    assert len(loaded) == 1
    np.testing.assert_allclose(loaded[0], _embedding(1), atol=1e-6)
    assert await read_contact(subject_keys, subject) == "visitor@example.org"

    stored = template.ciphertext
    plain = template_bytes(_embedding(1))
    assert plain not in stored
    assert _embedding(1).astype("<f8").tobytes()[:64] not in stored
    assert b"visitor@example.org" not in (subject.contact_ciphertext or b"")
    if db_backend == "sqlite":
        # Nothing readable in the database file itself either.
        await sessions.close()
        raw = Path(make_url(database_url).database or "").read_bytes()
        wal = Path(str(make_url(database_url).database) + "-wal")
        raw += wal.read_bytes() if wal.exists() else b""
        assert plain[:64] not in raw
        assert b"visitor@example.org" not in raw


async def test_ciphertext_moved_to_another_row_fails(
    sessions: AsyncSession, subject_keys: SubjectKeys
) -> None:
    alice, alice_template = await _enrol(sessions, subject_keys, seed=1)
    second = await add_template(sessions, subject_keys, alice.id, _embedding(2))
    bob, _ = await _enrol(sessions, subject_keys, seed=3)
    await sessions.commit()

    # Within one subject: template 1's ciphertext copied over template 2's row.
    await sessions.execute(
        update(FaceTemplate)
        .where(FaceTemplate.id == second.id)
        .values(ciphertext=alice_template.ciphertext)
    )
    await sessions.commit()
    with pytest.raises(CryptoError):
        await load_templates(sessions, subject_keys, alice.id)

    # Across subjects: Alice's template re-owned by Bob fails under Bob's key.
    await sessions.execute(
        update(FaceTemplate).where(FaceTemplate.id == second.id).values(subject_id=bob.id)
    )
    await sessions.execute(
        update(FaceTemplate)
        .where(FaceTemplate.id == second.id)
        .values(ciphertext=alice_template.ciphertext)
    )
    await sessions.commit()
    with pytest.raises(CryptoError):
        await load_templates(sessions, subject_keys, bob.id)


async def test_contact_of_one_subject_cannot_be_read_as_another(
    sessions: AsyncSession, subject_keys: SubjectKeys
) -> None:
    alice, _ = await _enrol(sessions, subject_keys, seed=1, contact="alice@example.org")
    bob, _ = await _enrol(sessions, subject_keys, seed=2, contact="bob@example.org")
    bob.contact_ciphertext = alice.contact_ciphertext
    with pytest.raises(CryptoError):
        await read_contact(subject_keys, bob)


async def test_tampered_ciphertext_in_the_database_fails(
    sessions: AsyncSession, subject_keys: SubjectKeys
) -> None:
    subject, template = await _enrol(sessions, subject_keys, seed=1)
    tampered = bytearray(template.ciphertext)
    tampered[-20] ^= 0x01
    await sessions.execute(
        update(FaceTemplate)
        .where(FaceTemplate.id == template.id)
        .values(ciphertext=bytes(tampered))
    )
    await sessions.commit()
    with pytest.raises(CryptoError):
        await load_templates(sessions, subject_keys, subject.id)


async def test_another_master_key_cannot_open_the_data_keys(
    sessions: AsyncSession, subject_keys: SubjectKeys, tmp_path: Path
) -> None:
    subject, _ = await _enrol(sessions, subject_keys, seed=1)
    stranger = LocalKeyFileProvider(tmp_path / "other" / "master.key")
    store = subject_keys._store  # the same key store, opened with the wrong master keyring
    with pytest.raises(CryptoError):
        await load_templates(sessions, SubjectKeys(stranger, store), subject.id)


async def test_rotation_keeps_old_data_readable_and_rewraps(
    sessions: AsyncSession, subject_keys: SubjectKeys, master_keys: LocalKeyFileProvider
) -> None:
    before, _ = await _enrol(sessions, subject_keys, seed=1)
    old_key = master_keys.current_key_id
    new_key = master_keys.rotate()
    assert new_key != old_key
    after, _ = await _enrol(sessions, subject_keys, seed=2)

    np.testing.assert_allclose(
        (await load_templates(sessions, subject_keys, before.id))[0], _embedding(1), atol=1e-6
    )
    assert subject_keys.rewrap_all() == 1  # only the key wrapped before the rotation
    assert subject_keys.rewrap_all() == 0
    for subject, seed in ((before, 1), (after, 2)):
        np.testing.assert_allclose(
            (await load_templates(sessions, subject_keys, subject.id))[0],
            _embedding(seed),
            atol=1e-6,
        )


async def test_shredding_survives_a_restored_backup(
    sessions: AsyncSession,
    db_engine: AsyncEngine,
    subject_keys: SubjectKeys,
    database_url: str,
    db_backend: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    """Restore a database backup taken before the deletion: the template stays unreadable."""
    kept, _ = await _enrol(sessions, subject_keys, seed=1)
    gone, _ = await _enrol(sessions, subject_keys, seed=2)
    await sessions.close()

    backup = _backup(database_url, db_backend, tmp_path)

    async with session_factory(db_engine)() as session:
        await shred_subject(session, subject_keys, gone.id)
        await session.commit()
        deleted = await session.get(Subject, gone.id)
        assert deleted is not None
        assert deleted.status == SubjectStatus.DELETED
        assert deleted.contact_ciphertext is None
        assert await load_templates(session, subject_keys, gone.id) == []

    restored_url = _restore(backup, db_backend, tmp_path, request)
    engine = create_engine(restored_url)
    try:
        async with session_factory(engine)() as session:
            rows = (
                await session.scalars(
                    select(FaceTemplate).where(FaceTemplate.subject_id == gone.id)
                )
            ).all()
            assert len(rows) == 1, "the backup still holds the ciphertext..."
            with pytest.raises(KeyDestroyed):  # ...but nothing can open it any more
                await load_templates(session, subject_keys, gone.id)
            restored_subject = await session.get(Subject, gone.id)
            assert restored_subject is not None
            with pytest.raises(KeyDestroyed):
                await read_contact(subject_keys, restored_subject)
            # Everyone else in the backup is intact.
            np.testing.assert_allclose(
                (await load_templates(session, subject_keys, kept.id))[0],
                _embedding(1),
                atol=1e-6,
            )
            assert (await session.execute(text("SELECT count(*) FROM subjects"))).scalar() == 2
    finally:
        await engine.dispose()


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _backup(database_url: str, backend: str, tmp_path: Path) -> Path:
    """Take a backup the way an operator would: SQLite's online backup API, or pg_dump."""
    backup = tmp_path / "backup"
    if backend == "sqlite":
        source = Path(make_url(database_url).database or "")
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(backup)) as dst:
            src.backup(dst)
        return backup
    pg_dump = str(find_bin_dir() / "pg_dump")
    subprocess.run(
        [pg_dump, "--format=custom", f"--file={backup}", _libpq_url(database_url)],
        check=True,
        capture_output=True,
    )
    return backup


def _restore(backup: Path, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Restore the backup into a new database and return its URL."""
    if backend == "sqlite":
        restored = tmp_path / "restored.db"
        shutil.copyfile(backup, restored)
        return f"sqlite+aiosqlite:///{restored}"
    server = request.getfixturevalue("postgres_server")
    restored_url: str = server.create_database()
    pg_restore = str(find_bin_dir() / "pg_restore")
    subprocess.run(
        [pg_restore, "--no-owner", f"--dbname={_libpq_url(restored_url)}", str(backup)],
        check=True,
        capture_output=True,
    )
    return restored_url
