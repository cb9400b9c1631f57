"""The subject key store: private, forgets for real, and re-wraps after a master key rotation."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest

from optin.crypto.keys import InMemoryKeyProvider
from optin.crypto.subject_keys import SqliteSubjectKeyStore, SubjectKeys
from optin.errors import ConfigurationError, Conflict, CryptoError, KeyDestroyed


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "subject-keys.db"


@pytest.fixture
def keys(store_path: Path) -> SubjectKeys:
    return SubjectKeys(InMemoryKeyProvider(), SqliteSubjectKeyStore(store_path))


def test_store_file_is_private(keys: SubjectKeys, store_path: Path) -> None:
    assert stat.S_IMODE(store_path.stat().st_mode) == 0o600


def test_store_refuses_a_readable_file(store_path: Path) -> None:
    SqliteSubjectKeyStore(store_path)
    store_path.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        SqliteSubjectKeyStore(store_path)


def test_create_get_destroy(keys: SubjectKeys) -> None:
    subject = uuid.uuid4()
    created = keys.create(subject)
    assert keys.get(subject).key == created.key
    assert keys.destroy(subject) is True
    with pytest.raises(KeyDestroyed):
        keys.get(subject)
    assert keys.destroy(subject) is False  # idempotent


def test_one_key_per_subject(keys: SubjectKeys) -> None:
    subject = uuid.uuid4()
    keys.create(subject)
    with pytest.raises(Conflict):
        keys.create(subject)


def test_unknown_subject_has_no_key(keys: SubjectKeys) -> None:
    with pytest.raises(KeyDestroyed):
        keys.get(uuid.uuid4())


def test_destroyed_key_bytes_leave_the_file(keys: SubjectKeys, store_path: Path) -> None:
    """secure_delete and a rollback journal: no copy of the wrapped key stays on the files."""
    subject = uuid.uuid4()
    keys.create(subject)
    wrapped = keys._store.get(subject)
    assert wrapped is not None
    assert wrapped in store_path.read_bytes()
    keys.destroy(subject)
    leftovers = b"".join(
        path.read_bytes() for path in store_path.parent.iterdir() if path.is_file()
    )
    assert wrapped not in leftovers
    assert not Path(str(store_path) + "-wal").exists()


def test_a_wrapped_key_moved_to_another_subject_fails(keys: SubjectKeys) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    keys.create(alice)
    keys.create(bob)
    alice_wrapped = keys._store.get(alice)
    assert alice_wrapped is not None
    keys._store.replace(bob, alice_wrapped)
    with pytest.raises(CryptoError):
        keys.get(bob)


def test_rotation_rewraps_without_changing_data_keys(store_path: Path) -> None:
    master = InMemoryKeyProvider()
    keys = SubjectKeys(master, SqliteSubjectKeyStore(store_path))
    subjects = [uuid.uuid4() for _ in range(3)]
    originals = {subject: keys.create(subject).key for subject in subjects}
    master.rotate()
    assert keys.rewrap_all() == 3
    assert keys.rewrap_all() == 0
    for subject in subjects:
        assert keys.get(subject).key == originals[subject]


def test_two_processes_share_the_store(store_path: Path) -> None:
    master = InMemoryKeyProvider()
    first = SubjectKeys(master, SqliteSubjectKeyStore(store_path))
    second = SubjectKeys(master, SqliteSubjectKeyStore(store_path))
    subject = uuid.uuid4()
    created = first.create(subject)
    assert second.get(subject).key == created.key
    second.destroy(subject)
    with pytest.raises(KeyDestroyed):
        first.get(subject)
    assert os.access(store_path, os.R_OK)
