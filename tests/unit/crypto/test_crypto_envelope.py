"""The AES-256-GCM envelope: layout, round trip, and every way a blob can be wrong."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optin.crypto.envelope import (
    NONCE_BYTES,
    TAG_BYTES,
    VERSION,
    open_envelope,
    peek_key_id,
    seal,
)
from optin.errors import CryptoError

KEY = secrets.token_bytes(32)
OTHER_KEY = secrets.token_bytes(32)
KID = "mk-test-1"
AAD = b"subject=1;record=2"
PLAINTEXT = b"a face template, 128 floats"
HEADER_LENGTH = 2 + len(KID)


def sealed() -> bytes:
    return seal(KEY, KID, PLAINTEXT, AAD)


def test_round_trip() -> None:
    assert open_envelope({KID: KEY}, sealed(), AAD) == PLAINTEXT


def test_layout_is_version_key_id_nonce_ciphertext_tag() -> None:
    blob = sealed()
    assert blob[0] == VERSION == 1
    assert blob[1] == len(KID)
    assert blob[2:HEADER_LENGTH] == KID.encode("ascii")
    assert len(blob) == HEADER_LENGTH + NONCE_BYTES + len(PLAINTEXT) + TAG_BYTES
    assert PLAINTEXT not in blob


def test_each_seal_uses_a_fresh_nonce() -> None:
    first, second = sealed(), sealed()
    nonce = slice(HEADER_LENGTH, HEADER_LENGTH + NONCE_BYTES)
    assert first[nonce] != second[nonce]
    assert first != second


@given(plaintext=st.binary(max_size=4096), aad=st.binary(max_size=256))
def test_round_trip_arbitrary_bytes(plaintext: bytes, aad: bytes) -> None:
    blob = seal(KEY, KID, plaintext, aad)
    assert open_envelope({KID: KEY}, blob, aad) == plaintext


def test_accepts_memoryview_and_bytearray_from_database_drivers() -> None:
    blob = sealed()
    assert open_envelope({KID: KEY}, memoryview(blob), AAD) == PLAINTEXT
    assert peek_key_id(bytearray(blob)) == KID


def test_key_lookup_may_be_a_callable() -> None:
    asked: list[str] = []

    def lookup(key_id: str) -> bytes:
        asked.append(key_id)
        return KEY

    assert open_envelope(lookup, sealed(), AAD) == PLAINTEXT
    assert asked == [KID]


def test_callable_lookup_raising_key_error_becomes_crypto_error() -> None:
    def lookup(key_id: str) -> bytes:
        raise KeyError(key_id)

    with pytest.raises(CryptoError, match="no key with id 'mk-test-1'"):
        open_envelope(lookup, sealed(), AAD)


def test_peek_key_id() -> None:
    assert peek_key_id(sealed()) == KID


def test_wrong_key_fails() -> None:
    with pytest.raises(CryptoError, match="failed authentication"):
        open_envelope({KID: OTHER_KEY}, sealed(), AAD)


def test_unknown_key_id_fails() -> None:
    with pytest.raises(CryptoError, match="no key with id"):
        open_envelope({"mk-other": KEY}, sealed(), AAD)


@pytest.mark.parametrize("aad", [b"", b"subject=1;record=3", AAD + b"\x00", AAD[:-1]])
def test_wrong_aad_fails(aad: bytes) -> None:
    with pytest.raises(CryptoError, match="failed authentication"):
        open_envelope({KID: KEY}, sealed(), aad)


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(2, id="key-id"),
        pytest.param(HEADER_LENGTH, id="nonce"),
        pytest.param(HEADER_LENGTH + NONCE_BYTES + 3, id="ciphertext"),
        pytest.param(-1, id="tag"),
    ],
)
def test_flipped_bit_fails(offset: int) -> None:
    blob = bytearray(sealed())
    blob[offset] ^= 0x01
    # A flipped key id byte may name a key we do not have; give every id the right key so
    # only authentication can catch it.
    with pytest.raises(CryptoError):
        open_envelope(lambda _key_id: KEY, bytes(blob), AAD)


@given(data=st.data())
def test_any_single_bit_flip_fails(data: st.DataObject) -> None:
    blob = bytearray(seal(KEY, KID, b"x" * 40, AAD))
    index = data.draw(st.integers(0, len(blob) - 1))
    blob[index] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(CryptoError):
        open_envelope(lambda _key_id: KEY, bytes(blob), AAD)


def test_header_is_authenticated_even_when_the_key_is_the_same() -> None:
    """Renaming the key id to another id for the very same key must still fail."""
    blob = seal(KEY, "mk-a", PLAINTEXT, AAD)
    renamed = blob[:2] + b"mk-b" + blob[6:]
    assert peek_key_id(renamed) == "mk-b"
    with pytest.raises(CryptoError, match="failed authentication"):
        open_envelope({"mk-a": KEY, "mk-b": KEY}, renamed, AAD)


@given(data=st.data())
def test_any_truncation_fails(data: st.DataObject) -> None:
    blob = sealed()
    length = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(CryptoError):
        open_envelope({KID: KEY}, blob[:length], AAD)


@pytest.mark.parametrize("length", [0, 1, HEADER_LENGTH, HEADER_LENGTH + NONCE_BYTES + 15])
def test_truncated_blob_is_reported_as_truncated(length: int) -> None:
    with pytest.raises(CryptoError, match="truncated"):
        peek_key_id(sealed()[:length])


@pytest.mark.parametrize("version", [0, 2, 255])
def test_unknown_version_fails(version: int) -> None:
    blob = bytes([version]) + sealed()[1:]
    with pytest.raises(CryptoError, match=f"unsupported envelope version {version}"):
        open_envelope({KID: KEY}, blob, AAD)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"\x01\x00", id="empty-key-id"),
        pytest.param(b"\x01\x41" + b"k" * 65, id="key-id-too-long"),
        pytest.param(b"\x01\x03k\xffk", id="non-ascii-key-id"),
        pytest.param(b"\x01\x03k k", id="space-in-key-id"),
    ],
)
def test_malformed_header_fails(header: bytes) -> None:
    blob = header + bytes(NONCE_BYTES + TAG_BYTES + 8)
    with pytest.raises(CryptoError, match="malformed"):
        open_envelope(lambda _key_id: KEY, blob, AAD)


def test_lookup_returning_a_short_key_fails_cleanly() -> None:
    with pytest.raises(CryptoError, match="not a 32-byte"):
        open_envelope({KID: KEY[:16]}, sealed(), AAD)


@pytest.mark.parametrize("key_id", ["", "-leading-dash", "has space", "é", "k" * 65, "a/b"])
def test_seal_rejects_invalid_key_ids(key_id: str) -> None:
    with pytest.raises(ValueError, match="invalid key id"):
        seal(KEY, key_id, PLAINTEXT, AAD)


@pytest.mark.parametrize("length", [0, 16, 24, 31, 33])
def test_seal_rejects_keys_that_are_not_256_bits(length: int) -> None:
    with pytest.raises(ValueError, match="32-byte key"):
        seal(secrets.token_bytes(length), KID, PLAINTEXT, AAD)


def test_errors_never_contain_key_or_plaintext() -> None:
    failures = []
    for keys, aad in [({KID: OTHER_KEY}, AAD), ({KID: KEY}, b"other")]:
        with pytest.raises(CryptoError) as caught:
            open_envelope(keys, sealed(), aad)
        failures.append(str(caught.value))
    for message in failures:
        for secret in (KEY, OTHER_KEY, PLAINTEXT):
            assert secret.hex() not in message
            assert repr(secret) not in message
        assert "a face template" not in message
