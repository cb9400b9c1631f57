"""The master keyring file: creation, permissions, rotation, reloading, derived sub-keys."""

from __future__ import annotations

import json
import stat
import uuid
from pathlib import Path

import pytest

from optin.crypto import (
    InMemoryKeyProvider,
    KeyProvider,
    Keyring,
    LocalKeyFileProvider,
    new_data_key,
    unwrap_data_key,
    wrap_data_key,
)
from optin.crypto.envelope import peek_key_id
from optin.errors import ConfigurationError, CryptoError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_providers_satisfy_the_protocol(provider: LocalKeyFileProvider) -> None:
    assert isinstance(provider, KeyProvider)
    assert isinstance(InMemoryKeyProvider(), KeyProvider)


def test_key_file_is_created_private_on_first_run(key_file: Path) -> None:
    assert not key_file.parent.exists()
    provider = LocalKeyFileProvider(key_file)
    assert mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700
    document = json.loads(key_file.read_text())
    assert document["version"] == 1
    assert document["current"] == provider.current_key_id
    assert list(document["keys"]) == [provider.current_key_id]
    assert not [p for p in key_file.parent.iterdir() if p.name.endswith(".tmp")]


def test_existing_key_file_is_loaded_not_replaced(key_file: Path) -> None:
    first = LocalKeyFileProvider(key_file)
    content = key_file.read_bytes()
    second = LocalKeyFileProvider(key_file)
    assert key_file.read_bytes() == content
    assert second.current_key_id == first.current_key_id
    assert second.get_key(first.current_key_id) == first.get_key(first.current_key_id)


def test_missing_file_is_an_error_when_creation_is_off(key_file: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        LocalKeyFileProvider(key_file, create=False)
    assert not key_file.exists()


@pytest.mark.parametrize("file_mode", [0o644, 0o640, 0o604, 0o620, 0o660, 0o602, 0o610])
def test_key_file_accessible_to_others_is_refused(key_file: Path, file_mode: int) -> None:
    LocalKeyFileProvider(key_file)
    key_file.chmod(file_mode)
    with pytest.raises(ConfigurationError) as caught:
        LocalKeyFileProvider(key_file)
    message = str(caught.value)
    assert str(key_file) in message
    assert f"chmod 600 {key_file}" in message
    assert f"{file_mode:04o}" in message


@pytest.mark.parametrize("file_mode", [0o600, 0o400])
def test_owner_only_modes_are_accepted(key_file: Path, file_mode: int) -> None:
    LocalKeyFileProvider(key_file)
    key_file.chmod(file_mode)
    LocalKeyFileProvider(key_file)


def test_rotation_persists_and_old_keys_keep_working(key_file: Path) -> None:
    provider = LocalKeyFileProvider(key_file)
    subject = uuid.uuid4()
    dek = new_data_key()
    old_id = provider.current_key_id
    old_wrapped = wrap_data_key(provider, dek, subject)

    new_id = provider.rotate()

    assert mode(key_file) == 0o600
    reloaded = LocalKeyFileProvider(key_file)
    assert reloaded.current_key_id == new_id
    assert reloaded.key_ids() == (old_id, new_id)
    assert unwrap_data_key(reloaded, old_wrapped, subject).key == dek.key
    assert peek_key_id(wrap_data_key(reloaded, dek, subject)) == new_id


def test_rotation_by_another_process_is_picked_up_on_unknown_key_id(key_file: Path) -> None:
    server = LocalKeyFileProvider(key_file)
    cli = LocalKeyFileProvider(key_file)
    cli.rotate()
    subject = uuid.uuid4()
    dek = new_data_key()
    wrapped = wrap_data_key(cli, dek, subject)

    assert unwrap_data_key(server, wrapped, subject).key == dek.key
    assert server.current_key_id == cli.current_key_id


def test_concurrent_rotations_do_not_lose_a_key(key_file: Path) -> None:
    first = LocalKeyFileProvider(key_file)
    second = LocalKeyFileProvider(key_file)  # loaded before first rotates
    a = first.rotate()
    b = second.rotate()
    final = LocalKeyFileProvider(key_file)
    assert set(final.key_ids()) >= {a, b}
    assert len(final.key_ids()) == 3
    assert final.current_key_id == b


def test_unknown_key_id_is_a_crypto_error(provider: LocalKeyFileProvider) -> None:
    with pytest.raises(CryptoError, match="unknown master key id 'mk-nope'"):
        provider.get_key("mk-nope")


def test_derived_subkeys_are_stable_across_rotation_and_reload(key_file: Path) -> None:
    provider = LocalKeyFileProvider(key_file)
    before = provider.derive_subkey(b"optin/token-hmac/v1")
    provider.rotate()
    assert provider.derive_subkey(b"optin/token-hmac/v1") == before
    assert LocalKeyFileProvider(key_file).derive_subkey(b"optin/token-hmac/v1") == before


def test_derived_subkeys_depend_on_purpose_and_keyring(provider: LocalKeyFileProvider) -> None:
    token_key = provider.derive_subkey(b"optin/token-hmac/v1")
    assert len(token_key) == 32
    assert provider.derive_subkey(b"optin/venue/1") != token_key
    assert len(provider.derive_subkey(b"x", 64)) == 64
    assert InMemoryKeyProvider().derive_subkey(b"optin/token-hmac/v1") != token_key
    # Derived from the dedicated derivation key, never equal to a wrapping key.
    assert token_key not in {provider.get_key(k) for k in provider.key_ids()}


@pytest.mark.parametrize(("info", "length"), [(b"", 32), (b"x", 8)])
def test_derive_subkey_rejects_bad_arguments(
    provider: LocalKeyFileProvider, info: bytes, length: int
) -> None:
    with pytest.raises(ValueError):
        provider.derive_subkey(info, length)


def _keyring_document(key_file: Path) -> dict[str, object]:
    LocalKeyFileProvider(key_file)
    document: dict[str, object] = json.loads(key_file.read_text())
    return document


@pytest.mark.parametrize(
    ("corrupt", "reason"),
    [
        (lambda d: d.update(version=2), "unsupported keyring version"),
        (lambda d: d.update(current="mk-missing"), "current key id is not in the keyring"),
        (lambda d: d.update(keys={}), "non-empty"),
        (lambda d: d.pop("derivation_key"), "'derivation_key' must be a base64 string"),
        (lambda d: d.update(derivation_key="c2hvcnQ="), "derivation key is not 32 bytes"),
        (lambda d: d["keys"].update({d["current"]: "!!!notbase64"}), "is not valid base64"),
    ],
)
def test_corrupt_keyring_is_refused_without_quoting_keys(
    key_file: Path, corrupt: object, reason: str
) -> None:
    document = _keyring_document(key_file)
    secrets_in_file = [*document["keys"].values(), document["derivation_key"]]  # type: ignore[attr-defined]
    corrupt(document)  # type: ignore[operator]
    key_file.write_text(json.dumps(document))
    with pytest.raises(ConfigurationError, match="not a valid keyring") as caught:
        LocalKeyFileProvider(key_file)
    assert reason in str(caught.value)
    for secret in secrets_in_file:
        assert secret not in str(caught.value)


def test_non_json_keyring_is_refused(key_file: Path) -> None:
    LocalKeyFileProvider(key_file)
    key_file.write_bytes(b"\x00\xffnot json")
    with pytest.raises(ConfigurationError, match="not a JSON document"):
        LocalKeyFileProvider(key_file)


def test_keyring_repr_hides_keys() -> None:
    keyring = Keyring.generate()
    text = repr(keyring)
    assert keyring.current in text
    for key in [*keyring.keys.values(), keyring.derivation_key]:
        assert key.hex() not in text
        assert repr(key) not in text


def test_keyring_json_round_trip() -> None:
    keyring = Keyring.generate().with_new_key()
    assert Keyring.from_json(keyring.to_json()) == keyring


def test_in_memory_provider_rotates_too() -> None:
    provider = InMemoryKeyProvider()
    subject, dek = uuid.uuid4(), new_data_key()
    wrapped = wrap_data_key(provider, dek, subject)
    new_id = provider.rotate()
    assert provider.keyring.current == new_id
    assert unwrap_data_key(provider, wrapped, subject).key == dek.key
