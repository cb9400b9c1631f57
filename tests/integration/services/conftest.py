"""Subject key material for service tests: a real key file and a real key store in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from optin.crypto.keys import LocalKeyFileProvider
from optin.crypto.subject_keys import SqliteSubjectKeyStore, SubjectKeys


@pytest.fixture
def master_keys(tmp_path: Path) -> LocalKeyFileProvider:
    return LocalKeyFileProvider(tmp_path / "keys" / "master.key")


@pytest.fixture
def subject_keys(tmp_path: Path, master_keys: LocalKeyFileProvider) -> SubjectKeys:
    return SubjectKeys(master_keys, SqliteSubjectKeyStore(tmp_path / "keys" / "subject-keys.db"))
