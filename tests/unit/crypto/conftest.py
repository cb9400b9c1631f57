"""Fixtures for the crypto tests: keys, providers on a temporary key file, ids."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path

import pytest

from optin.crypto import DataKey, LocalKeyFileProvider, RecordKind, RecordRef


@pytest.fixture
def key() -> bytes:
    return secrets.token_bytes(32)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """Where a master keyring will live; its parent directory does not exist yet."""
    return tmp_path / "keys" / "master.key"


@pytest.fixture
def provider(key_file: Path) -> LocalKeyFileProvider:
    return LocalKeyFileProvider(key_file)


@pytest.fixture
def subject_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def dek() -> DataKey:
    return DataKey.generate()


@pytest.fixture
def template_ref(subject_id: uuid.UUID) -> RecordRef:
    return RecordRef(RecordKind.FACE_TEMPLATE, subject_id, uuid.uuid4())
