"""Per-subject data keys: wrapping, binding to the subject, rotation, and crypto-shredding."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from optin.crypto import (
    DataKey,
    InMemoryKeyProvider,
    LocalKeyFileProvider,
    RecordKind,
    RecordRef,
    needs_rewrap,
    new_data_key,
    open_record,
    rewrap_data_key,
    seal_record,
    unwrap_data_key,
    wrap_data_key,
)
from optin.crypto.envelope import open_envelope, peek_key_id
from optin.errors import CryptoError, KeyDestroyed


def test_new_data_keys_are_random_256_bit_keys() -> None:
    keys = [new_data_key() for _ in range(50)]
    assert all(len(k.key) == 32 for k in keys)
    assert len({k.key for k in keys}) == 50
    assert len({k.key_id for k in keys}) == 50


def test_key_id_is_a_stable_fingerprint_that_hides_the_key() -> None:
    dek = new_data_key()
    again = DataKey(bytes(dek.key))
    assert dek.key_id == again.key_id
    assert dek.key_id.startswith("dek-")
    assert len(dek.key_id) <= 64  # fits subjects.data_key_id
    assert dek.key.hex() not in dek.key_id


def test_repr_does_not_show_the_key() -> None:
    dek = new_data_key()
    assert dek.key.hex() not in repr(dek)
    assert repr(dek.key) not in repr(dek)


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_data_key_must_be_32_bytes(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        DataKey(bytes(length))


def test_wrap_unwrap_round_trip(
    provider: LocalKeyFileProvider, dek: DataKey, subject_id: uuid.UUID
) -> None:
    wrapped = wrap_data_key(provider, dek, subject_id)
    assert dek.key not in wrapped
    assert peek_key_id(wrapped) == provider.current_key_id
    assert unwrap_data_key(provider, wrapped, subject_id).key == dek.key


def test_wrapped_key_moved_to_another_subject_fails(
    provider: LocalKeyFileProvider, dek: DataKey, subject_id: uuid.UUID
) -> None:
    wrapped = wrap_data_key(provider, dek, subject_id)
    with pytest.raises(CryptoError, match="failed authentication"):
        unwrap_data_key(provider, wrapped, uuid.uuid4())


def test_owner_kind_is_bound_too(
    provider: LocalKeyFileProvider, dek: DataKey, subject_id: uuid.UUID
) -> None:
    wrapped = wrap_data_key(provider, dek, subject_id, owner_kind="venue")
    assert unwrap_data_key(provider, wrapped, subject_id, owner_kind="venue").key == dek.key
    with pytest.raises(CryptoError):
        unwrap_data_key(provider, wrapped, subject_id)


def test_another_keyring_cannot_unwrap(
    provider: LocalKeyFileProvider, dek: DataKey, subject_id: uuid.UUID
) -> None:
    wrapped = wrap_data_key(provider, dek, subject_id)
    with pytest.raises(CryptoError, match="unknown master key id"):
        unwrap_data_key(InMemoryKeyProvider(), wrapped, subject_id)


def test_destroyed_key_raises_key_destroyed(provider: LocalKeyFileProvider) -> None:
    with pytest.raises(KeyDestroyed) as caught:
        unwrap_data_key(provider, None, uuid.uuid4())
    assert isinstance(caught.value, CryptoError)
    assert caught.value.status == 410


def test_rotation_old_wraps_still_open_new_wraps_use_new_key(
    provider: LocalKeyFileProvider, dek: DataKey, subject_id: uuid.UUID
) -> None:
    old_key_id = provider.current_key_id
    old_wrapped = wrap_data_key(provider, dek, subject_id)

    new_key_id = provider.rotate()

    assert new_key_id != old_key_id
    assert provider.current_key_id == new_key_id
    assert unwrap_data_key(provider, old_wrapped, subject_id).key == dek.key
    assert peek_key_id(wrap_data_key(provider, new_data_key(), subject_id)) == new_key_id


def test_rewrap_moves_a_wrapped_key_to_the_current_master_key(
    provider: LocalKeyFileProvider, dek: DataKey, subject_id: uuid.UUID
) -> None:
    wrapped = wrap_data_key(provider, dek, subject_id)
    assert not needs_rewrap(provider, wrapped)
    provider.rotate()
    assert needs_rewrap(provider, wrapped)

    rewrapped = rewrap_data_key(provider, wrapped, subject_id)

    assert not needs_rewrap(provider, rewrapped)
    assert peek_key_id(rewrapped) == provider.current_key_id
    # Same data key, so records sealed before the rotation still open.
    assert unwrap_data_key(provider, rewrapped, subject_id).key == dek.key


def test_rewrap_of_a_destroyed_key_stays_destroyed(provider: LocalKeyFileProvider) -> None:
    with pytest.raises(KeyDestroyed):
        rewrap_data_key(provider, None, uuid.uuid4())


def test_crypto_shredding(key_file: Path, subject_id: uuid.UUID) -> None:
    """Once the wrapped data key is gone, no copy of the subject's ciphertexts can be opened."""
    provider = LocalKeyFileProvider(key_file)
    dek = new_data_key()
    wrapped: bytes | None = wrap_data_key(provider, dek, subject_id)
    template_ref = RecordRef(RecordKind.FACE_TEMPLATE, subject_id, uuid.uuid4())
    contact_ref = RecordRef(RecordKind.SUBJECT_CONTACT, subject_id, subject_id)
    backup = {
        template_ref: seal_record(dek, template_ref, b"template"),
        contact_ref: seal_record(dek, contact_ref, b"ada@example.org"),
    }
    # Before shredding the backup is readable through the wrapped key.
    live = unwrap_data_key(provider, wrapped, subject_id)
    assert open_record(live, template_ref, backup[template_ref]) == b"template"

    wrapped = None  # the subject asked to be forgotten
    del dek, live
    provider.rotate()  # later rotations change nothing

    with pytest.raises(KeyDestroyed):
        unwrap_data_key(LocalKeyFileProvider(key_file), wrapped, subject_id)
    # Every secret the service still holds: each master key and the derivation key.
    reloaded = LocalKeyFileProvider(key_file)
    remaining = [reloaded.get_key(key_id) for key_id in reloaded.key_ids()]
    remaining.append(reloaded.derive_subkey(b"optin/token-hmac/v1"))
    for ref, blob in backup.items():
        for secret in remaining:
            with pytest.raises(CryptoError):
                open_record(DataKey(secret), ref, blob)
            with pytest.raises(CryptoError):  # even forcing the key under the blob's own id
                open_envelope({peek_key_id(blob): secret}, blob, ref.aad())
