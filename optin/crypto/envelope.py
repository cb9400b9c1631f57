"""A versioned AES-256-GCM envelope that names the key it was sealed with.

Layout (version 1)::

    offset  size      field
    0       1         version (0x01)
    1       1         n = length of the key id (1..64)
    2       n         key id, ASCII ``[A-Za-z0-9][A-Za-z0-9._-]*``
    2+n     12        nonce, random per envelope
    14+n    len(p)    AES-256-GCM ciphertext
    ...     16        GCM tag

The GCM associated data is ``header || aad`` where ``header`` is bytes ``0 .. 2+n`` (version,
length, key id). The nonce is authenticated by GCM itself, so every byte of the envelope is
covered: changing the version or key id fails just like changing the body. Because the header is
self-delimiting, ``header || aad`` is unambiguous.

Random 96-bit nonces are safe for up to 2**32 envelopes per key (NIST SP 800-38D); our keys seal
far fewer (a subject's data key seals a handful of records, a master key one data key per
subject), and rotation resets the count.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from optin.errors import CryptoError

VERSION: Final = 1
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
MAX_KEY_ID_LENGTH: Final = 64

_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_AUTH_FAILED = (
    "envelope failed authentication: wrong key, tampered data, or data moved from another record"
)

BytesLike: TypeAlias = bytes | bytearray | memoryview
"""What database drivers hand back for a binary column."""

KeyLookup: TypeAlias = Mapping[str, bytes] | Callable[[str], bytes]
"""Finds the key for a key id: a mapping, or a callable that raises ``CryptoError`` if unknown."""


def is_valid_key_id(key_id: str) -> bool:
    return _KEY_ID.fullmatch(key_id) is not None


def seal(key: bytes, key_id: str, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under ``key`` and bind it to ``aad`` (which is not stored)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"AES-256-GCM needs a {KEY_BYTES}-byte key")
    if not is_valid_key_id(key_id):
        raise ValueError(f"invalid key id {key_id!r}")
    raw_id = key_id.encode("ascii")
    header = bytes((VERSION, len(raw_id))) + raw_id
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(key).encrypt(nonce, plaintext, header + aad)
    return header + nonce + body


def open_envelope(keys: KeyLookup, blob: BytesLike, aad: bytes) -> bytes:
    """Decrypt an envelope with the key its header names; ``CryptoError`` on any failure."""
    parsed = _parse(blob)
    key = _lookup(keys, parsed.key_id)
    if len(key) != KEY_BYTES:
        raise CryptoError(f"key {parsed.key_id!r} is not a {KEY_BYTES}-byte AES key")
    try:
        return AESGCM(key).decrypt(parsed.nonce, parsed.body, parsed.header + aad)
    except InvalidTag:
        raise CryptoError(_AUTH_FAILED) from None


def peek_key_id(blob: BytesLike) -> str:
    """The key id an envelope names, read without decrypting (and so not yet authenticated)."""
    return _parse(blob).key_id


@dataclass(frozen=True)
class _Parsed:
    header: bytes
    key_id: str
    nonce: bytes
    body: bytes


def _parse(data: BytesLike) -> _Parsed:
    blob = bytes(data)  # slice a real bytes object, whatever the driver returned
    if len(blob) < 2:
        raise CryptoError("envelope is truncated")
    if blob[0] != VERSION:
        raise CryptoError(f"unsupported envelope version {blob[0]}")
    id_length = blob[1]
    if not 1 <= id_length <= MAX_KEY_ID_LENGTH:
        raise CryptoError("envelope header is malformed")
    header_end = 2 + id_length
    if len(blob) < header_end + NONCE_BYTES + TAG_BYTES:
        raise CryptoError("envelope is truncated")
    key_id = blob[2:header_end].decode("ascii", errors="replace")
    if not is_valid_key_id(key_id):
        raise CryptoError("envelope header is malformed")
    return _Parsed(
        header=blob[:header_end],
        key_id=key_id,
        nonce=blob[header_end : header_end + NONCE_BYTES],
        body=blob[header_end + NONCE_BYTES :],
    )


def _lookup(keys: KeyLookup, key_id: str) -> bytes:
    if isinstance(keys, Mapping):
        key = keys.get(key_id)
        if key is None:
            raise CryptoError(f"no key with id {key_id!r} is available")
        return key
    try:
        return keys(key_id)
    except KeyError:
        raise CryptoError(f"no key with id {key_id!r} is available") from None
