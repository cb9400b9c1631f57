"""Per-subject data keys, held apart from the database, so that deletion survives backups.

Each subject's data key (DEK) is wrapped by the master key and stored here, in a small key store
of its own, never in the application database. Deleting a subject destroys its entry: from then
on every copy of its ciphertexts is unreadable, *including a database backup restored later*,
because no copy of the database ever held the key. (Were the wrapped DEK a database column, a
restored backup would bring it back together with the data it protects.)

The local store is a SQLite file beside the master keyring (mode 0600) with ``secure_delete`` on,
so a destroyed key's bytes are overwritten inside the file, and a rollback journal rather than a
write-ahead log, so no stale page image of a destroyed key lingers in a ``-wal`` file. Back this
file up separately and briefly; a KMS-backed store can replace it behind ``SubjectKeyStore``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from uuid import UUID

from optin.crypto.data_keys import (
    DataKey,
    needs_rewrap,
    new_data_key,
    rewrap_data_key,
    unwrap_data_key,
    wrap_data_key,
)
from optin.crypto.files import check_private_file, create_private_file
from optin.crypto.keys import KeyProvider
from optin.errors import Conflict

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subject_keys (
    subject_id BLOB PRIMARY KEY,
    wrapped BLOB NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID
"""


class SubjectKeyStore(Protocol):
    """Where wrapped subject data keys live. Implementations must really forget on ``delete``."""

    def put(self, subject_id: UUID, wrapped: bytes) -> None: ...

    def get(self, subject_id: UUID) -> bytes | None: ...

    def replace(self, subject_id: UUID, wrapped: bytes) -> None: ...

    def delete(self, subject_id: UUID) -> bool: ...

    def subject_ids(self) -> list[UUID]: ...


class SqliteSubjectKeyStore:
    """The local key store: one SQLite file, safe for several processes on one host."""

    def __init__(self, path: Path) -> None:
        self._path = path
        create_private_file(path, b"")  # an empty file is an empty SQLite database
        check_private_file(path, what="subject key store")
        with self._connect() as db:
            db.execute(_SCHEMA)

    @property
    def path(self) -> Path:
        return self._path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # A connection per call: cheap for a file this small, and safe across threads/processes.
        with closing(sqlite3.connect(self._path, timeout=10.0, isolation_level=None)) as db:
            db.execute("PRAGMA secure_delete = ON")
            db.execute("PRAGMA journal_mode = DELETE")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def put(self, subject_id: UUID, wrapped: bytes) -> None:
        try:
            with self._connect() as db:
                db.execute(
                    "INSERT INTO subject_keys (subject_id, wrapped, created_at) VALUES (?, ?, ?)",
                    (subject_id.bytes, wrapped, datetime.now(UTC).isoformat()),
                )
        except sqlite3.IntegrityError:
            raise Conflict("this subject already has a data key") from None

    def get(self, subject_id: UUID) -> bytes | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT wrapped FROM subject_keys WHERE subject_id = ?", (subject_id.bytes,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def replace(self, subject_id: UUID, wrapped: bytes) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE subject_keys SET wrapped = ? WHERE subject_id = ?",
                (wrapped, subject_id.bytes),
            )

    def delete(self, subject_id: UUID) -> bool:
        with self._connect() as db:
            cursor = db.execute(
                "DELETE FROM subject_keys WHERE subject_id = ?", (subject_id.bytes,)
            )
        return cursor.rowcount > 0

    def subject_ids(self) -> list[UUID]:
        with self._connect() as db:
            rows = db.execute("SELECT subject_id FROM subject_keys ORDER BY subject_id").fetchall()
        return [UUID(bytes=bytes(row[0])) for row in rows]


class SubjectKeys:
    """Create, use, destroy and re-wrap subjects' data keys (blocking: call off the event loop)."""

    def __init__(self, master: KeyProvider, store: SubjectKeyStore) -> None:
        self._master = master
        self._store = store

    @property
    def store(self) -> SubjectKeyStore:
        return self._store

    def create(self, subject_id: UUID) -> DataKey:
        dek = new_data_key()
        self._store.put(subject_id, wrap_data_key(self._master, dek, subject_id))
        return dek

    def get(self, subject_id: UUID) -> DataKey:
        """The subject's data key; ``KeyDestroyed`` if it was shredded (or never existed)."""
        return unwrap_data_key(self._master, self._store.get(subject_id), subject_id)

    def destroy(self, subject_id: UUID) -> bool:
        """Forget the key for good. True if there was one; destroying twice is harmless."""
        return self._store.delete(subject_id)

    def rewrap_all(self) -> int:
        """Re-wrap every key still under an old master key (after a rotation); returns how many."""
        count = 0
        for subject_id in self._store.subject_ids():
            wrapped = self._store.get(subject_id)
            if wrapped is not None and needs_rewrap(self._master, wrapped):
                self._store.replace(subject_id, rewrap_data_key(self._master, wrapped, subject_id))
                count += 1
        return count
