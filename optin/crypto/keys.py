"""Master keys: the ``KeyProvider`` protocol, a local key-file provider, and rotation.

A master key never encrypts personal data directly: it wraps per-subject data keys (see
data_keys.py) and venue keys, so rotating it means re-wrapping small keys, not re-encrypting data.

The key file is a small JSON keyring, mode 0600::

    {"version": 1,
     "current": "mk-20250101-1a2b3c4d",
     "keys": {"mk-20250101-1a2b3c4d": "<base64 of 32 bytes>", ...},
     "derivation_key": "<base64 of 32 bytes>"}

``current`` seals every new wrap; every key in ``keys`` still unwraps. ``derivation_key`` is the
HKDF root for ``derive_subkey`` and is deliberately *not* rotated with the wrapping keys: derived
secrets such as the gate-token HMAC key must stay stable, or a routine rotation would invalidate
every issued token. Deriving from the "first" wrapping key instead would mean one key serving two
purposes and would make retiring that old key silently break all tokens.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from optin.crypto._b64 import b64_decode, b64_encode
from optin.crypto.envelope import KEY_BYTES, is_valid_key_id, open_envelope, seal
from optin.crypto.files import create_private_file, locked, read_private_file, replace_private_file
from optin.errors import ConfigurationError, CryptoError

logger = logging.getLogger(__name__)

KEYRING_VERSION: Final = 1
_HKDF_SALT: Final = b"optin/master-key-derivation/v1"
_MIN_SUBKEY_BYTES: Final = 16


@runtime_checkable
class KeyProvider(Protocol):
    """Where master keys live. The rest of the code only wraps and unwraps through it."""

    @property
    def current_key_id(self) -> str:
        """The key id new wraps are sealed with."""
        ...

    def key_ids(self) -> tuple[str, ...]:
        """Every key id that can still unwrap, oldest first."""
        ...

    def get_key(self, key_id: str) -> bytes:
        """Raw key material for ``key_id``; ``CryptoError`` if unknown."""
        ...

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        """Seal ``key`` (a data key) under the current master key, bound to ``aad``."""
        ...

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        """Open a wrapped key with whichever master key sealed it; ``CryptoError`` on failure."""
        ...

    def rotate(self) -> str:
        """Add a new master key, make it current and return its id; old keys keep unwrapping."""
        ...

    def derive_subkey(self, info: bytes, length: int = KEY_BYTES) -> bytes:
        """A secret derived with HKDF-SHA256 for purpose ``info``; stable across rotation."""
        ...


def new_key_id() -> str:
    """``mk-YYYYMMDD-<8 hex>``: sortable by creation day, unique without coordination."""
    return f"mk-{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Keyring:
    """An immutable set of master keys; rotation returns a new keyring."""

    current: str
    keys: Mapping[str, bytes] = field(repr=False)
    derivation_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))
        if self.current not in self.keys:
            raise ValueError("the current key id is not in the keyring")
        for key_id, key in self.keys.items():
            if not is_valid_key_id(key_id):
                raise ValueError(f"invalid key id {key_id!r}")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} is not {KEY_BYTES} bytes")
        if len(self.derivation_key) != KEY_BYTES:
            raise ValueError(f"the derivation key is not {KEY_BYTES} bytes")

    @classmethod
    def generate(cls) -> Keyring:
        key_id = new_key_id()
        return cls(
            current=key_id,
            keys={key_id: secrets.token_bytes(KEY_BYTES)},
            derivation_key=secrets.token_bytes(KEY_BYTES),
        )

    def with_new_key(self) -> Keyring:
        key_id = new_key_id()
        while key_id in self.keys:  # same day and a 32-bit collision: draw again
            key_id = new_key_id()
        return Keyring(
            current=key_id,
            keys={**self.keys, key_id: secrets.token_bytes(KEY_BYTES)},
            derivation_key=self.derivation_key,
        )

    def to_json(self) -> bytes:
        document = {
            "version": KEYRING_VERSION,
            "current": self.current,
            "keys": {key_id: b64_encode(key) for key_id, key in self.keys.items()},
            "derivation_key": b64_encode(self.derivation_key),
        }
        return (json.dumps(document, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Keyring:
        """Parse a keyring; ``ValueError`` with a reason that never quotes key material."""
        try:
            document: Any = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ValueError("not a JSON document") from None
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        if document.get("version") != KEYRING_VERSION:
            raise ValueError(f"unsupported keyring version (expected {KEYRING_VERSION})")
        current, keys = document.get("current"), document.get("keys")
        if not isinstance(current, str) or not isinstance(keys, dict) or not keys:
            raise ValueError('"current" and a non-empty "keys" object are required')
        return cls(
            current=current,
            keys={str(key_id): _decode_key(value, str(key_id)) for key_id, value in keys.items()},
            derivation_key=_decode_key(document.get("derivation_key"), "derivation_key"),
        )


def _decode_key(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{name!r} must be a base64 string")
    try:
        return b64_decode(value)
    except ValueError:
        raise ValueError(f"{name!r} is not valid base64") from None


class _KeyringProvider:
    """Everything a keyring-backed provider shares; subclasses decide where it is kept."""

    _keyring: Keyring

    @property
    def current_key_id(self) -> str:
        return self._keyring.current

    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keyring.keys)

    def get_key(self, key_id: str) -> bytes:
        key = self._keyring.keys.get(key_id)
        if key is None:
            raise CryptoError(f"unknown master key id {key_id!r}")
        return key

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        keyring = self._keyring  # one snapshot, in case another thread rotates meanwhile
        return seal(keyring.keys[keyring.current], keyring.current, key, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        return open_envelope(self.get_key, wrapped, aad)

    def derive_subkey(self, info: bytes, length: int = KEY_BYTES) -> bytes:
        if not info:
            raise ValueError("derive_subkey needs a non-empty purpose label")
        if length < _MIN_SUBKEY_BYTES:
            raise ValueError(f"derived keys must be at least {_MIN_SUBKEY_BYTES} bytes")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=_HKDF_SALT, info=info)
        return hkdf.derive(self._keyring.derivation_key)


class InMemoryKeyProvider(_KeyringProvider):
    """A provider that keeps its keyring in memory only: for tests and throwaway tools."""

    def __init__(self, keyring: Keyring | None = None) -> None:
        self._keyring = keyring if keyring is not None else Keyring.generate()

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def rotate(self) -> str:
        self._keyring = self._keyring.with_new_key()
        return self._keyring.current


class LocalKeyFileProvider(_KeyringProvider):
    """Master keys in a local keyring file, created on first use (0600, parent dir 0700).

    The file is refused (``ConfigurationError``) if group or others can access it. With
    ``create=False`` a missing file is an error instead: a mistyped path must not quietly start a
    new keyring that the existing data cannot be read with.
    """

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self._path = Path(path)
        try:
            self._keyring = self._read()
        except FileNotFoundError:
            if not create:
                raise ConfigurationError(f"master key file {self._path} does not exist") from None
            keyring = Keyring.generate()
            if create_private_file(self._path, keyring.to_json()):
                logger.info("created master keyring %s with key %s", self._path, keyring.current)
                self._keyring = keyring
            else:  # another process created it at the same moment: use theirs
                self._keyring = self._read()

    @property
    def path(self) -> Path:
        return self._path

    def get_key(self, key_id: str) -> bytes:
        key = self._keyring.keys.get(key_id)
        if key is None:
            # Another process (the CLI) may have rotated since we loaded: look once more.
            self.reload()
        return super().get_key(key_id)

    def reload(self) -> None:
        """Re-read the keyring file, picking up a rotation done by another process."""
        try:
            self._keyring = self._read()
        except FileNotFoundError:
            raise ConfigurationError(f"master key file {self._path} has disappeared") from None

    def rotate(self) -> str:
        """Add a new current key and persist it atomically; returns the new key id.

        Reads the file afresh under a lock, so a rotation by another process is never lost.
        """
        with locked(self._path):
            self.reload()
            keyring = self._keyring.with_new_key()
            replace_private_file(self._path, keyring.to_json())
            self._keyring = keyring
        logger.info("rotated master keyring %s: new current key %s", self._path, keyring.current)
        return keyring.current

    def _read(self) -> Keyring:
        data = read_private_file(self._path, what="master key file")
        try:
            return Keyring.from_json(data)
        except ValueError as exc:
            raise ConfigurationError(
                f"master key file {self._path} is not a valid keyring: {exc}"
            ) from None
