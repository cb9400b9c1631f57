"""Per-subject data keys (DEKs), wrapped by the master key: the basis of crypto-shredding.

Each subject's templates and contact data are sealed under their own random DEK; only the DEK
wrapped by a master key is stored, in the subject key store held apart from the database
(subject_keys.py). Destroying that one wrapped DEK makes every copy of the subject's ciphertexts
unreadable, database backups included, because the DEK existed nowhere else.

The wrap is bound (AAD) to the owner kind and id, so a wrapped DEK copied onto another subject's
row fails to unwrap. ``owner_kind`` lets other owners (venues) reuse the same scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final
from uuid import UUID

from optin.crypto._b64 import b64url_encode
from optin.crypto.envelope import KEY_BYTES, peek_key_id
from optin.crypto.keys import KeyProvider
from optin.errors import CryptoError, KeyDestroyed

SUBJECT: Final = "subject"
_WRAP_AAD_DOMAIN: Final = b"optin/wrapped-key/v1\x00"
_KEY_ID_LABEL: Final = b"optin/data-key-id/v1"
_KEY_ID_BYTES: Final = 16


@dataclass(frozen=True, eq=False)
class DataKey:
    """A 256-bit data key. Its repr never shows the key; compare keys by ``key_id``."""

    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise ValueError(f"a data key is {KEY_BYTES} bytes")

    @classmethod
    def generate(cls) -> DataKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @cached_property
    def key_id(self) -> str:
        """``dek-<22 chars>``: a fingerprint of the key, safe to store and show.

        It is an HMAC keyed *by* the data key, so it reveals nothing about it, yet lets us tell
        "sealed under another subject's key" apart from "tampered" before decrypting, and lets
        the envelope name its key without a separate id column.
        """
        digest = hmac.digest(self.key, _KEY_ID_LABEL, hashlib.sha256)[:_KEY_ID_BYTES]
        return "dek-" + b64url_encode(digest)


def new_data_key() -> DataKey:
    return DataKey.generate()


def wrapped_key_aad(owner_id: UUID, owner_kind: str = SUBJECT) -> bytes:
    """AAD for a wrapped key: domain tag, length-prefixed owner kind, 16-byte owner id."""
    kind = owner_kind.encode("utf-8")
    if not 0 < len(kind) < 256:
        raise ValueError("owner kind must be 1-255 bytes")
    return _WRAP_AAD_DOMAIN + struct.pack("B", len(kind)) + kind + owner_id.bytes


def wrap_data_key(
    provider: KeyProvider, dek: DataKey, subject_id: UUID, *, owner_kind: str = SUBJECT
) -> bytes:
    """Seal ``dek`` under the provider's current master key, bound to its owner."""
    return provider.wrap(dek.key, wrapped_key_aad(subject_id, owner_kind))


def unwrap_data_key(
    provider: KeyProvider, wrapped: bytes | None, subject_id: UUID, *, owner_kind: str = SUBJECT
) -> DataKey:
    """Recover the owner's data key. ``KeyDestroyed`` if it was shredded (``wrapped`` is None)."""
    if wrapped is None:
        raise KeyDestroyed(f"this {owner_kind}'s data key was destroyed; their data is unreadable")
    key = provider.unwrap(wrapped, wrapped_key_aad(subject_id, owner_kind))
    if len(key) != KEY_BYTES:
        raise CryptoError("unwrapped data key has the wrong length")
    return DataKey(key)


def needs_rewrap(provider: KeyProvider, wrapped: bytes) -> bool:
    """True when ``wrapped`` is sealed under a master key other than the current one."""
    return peek_key_id(wrapped) != provider.current_key_id


def rewrap_data_key(
    provider: KeyProvider, wrapped: bytes | None, subject_id: UUID, *, owner_kind: str = SUBJECT
) -> bytes:
    """Re-seal a wrapped data key under the current master key (after ``provider.rotate()``).

    The data key itself is unchanged, so nothing sealed under it needs re-encrypting.
    """
    dek = unwrap_data_key(provider, wrapped, subject_id, owner_kind=owner_kind)
    return wrap_data_key(provider, dek, subject_id, owner_kind=owner_kind)
