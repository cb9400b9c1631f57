"""Ed25519 signatures: a persistent signing key, JWK export, and signed JSON documents.

Used for consent receipts: a receipt is a JSON document with a ``signature`` block that anyone
holding the public JWK can check, long after the fact and without our database.

The key id is the RFC 7638 JWK thumbprint (base64url SHA-256 of the canonical
``{"crv","kty","x"}`` JSON): deterministic from the public key, so reloading the key file yields
the same ``kid``, and any JOSE library can recompute it.

Documents are signed over canonical JSON: keys sorted, no whitespace (``,`` and ``:``
separators), UTF-8 without escaping, NaN/Infinity refused. Keep signed documents to strings,
integers, booleans, null, lists and objects: float formatting differs between languages.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from optin.crypto._b64 import b64url_decode, b64url_encode
from optin.crypto.files import create_private_file, read_private_file
from optin.errors import ConfigurationError, CryptoError

logger = logging.getLogger(__name__)

ALGORITHM: Final = "EdDSA"
SIGNATURE_FIELD: Final = "signature"
_PUBLIC_KEY_BYTES: Final = 32
_SIGNATURE_BYTES: Final = 64


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """The exact bytes a document signature covers."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class Verifier:
    """Checks signatures made with one Ed25519 public key."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self._public_key = public_key
        self._raw = public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self._kid = _thumbprint(self._raw)

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> Verifier:
        """A verifier from a public OKP/Ed25519 JWK; ``CryptoError`` if it is not one.

        Optional ``alg``, ``use`` and ``kid`` members must agree with the key if present.
        """
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise CryptoError('JWK is not an Ed25519 key (needs "kty":"OKP", "crv":"Ed25519")')
        if "d" in jwk:
            raise CryptoError("JWK contains a private key; only public keys are accepted")
        if jwk.get("alg", ALGORITHM) != ALGORITHM or jwk.get("use", "sig") != "sig":
            raise CryptoError('JWK is not for "EdDSA" signatures')
        x = jwk.get("x")
        try:
            raw = b64url_decode(x) if isinstance(x, str) else b""
        except ValueError:
            raw = b""
        if len(raw) != _PUBLIC_KEY_BYTES:
            raise CryptoError('JWK "x" is not a base64url 32-byte public key')
        verifier = cls(Ed25519PublicKey.from_public_bytes(raw))
        if "kid" in jwk and jwk["kid"] != verifier.kid:
            raise CryptoError('JWK "kid" does not match its key')
        return verifier

    @property
    def kid(self) -> str:
        return self._kid

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url_encode(self._raw),
            "kid": self._kid,
            "use": "sig",
            "alg": ALGORITHM,
        }

    def verify(self, data: bytes, signature: bytes) -> bool:
        try:
            self._public_key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def verify_document(self, document: Mapping[str, Any]) -> bool:
        """True only if ``document`` carries a valid signature by this key over the rest of it."""
        block = document.get(SIGNATURE_FIELD)
        if not isinstance(block, Mapping):
            return False
        if block.get("alg") != ALGORITHM or block.get("kid") != self._kid:
            return False
        value = block.get("value")
        try:
            signature = b64url_decode(value) if isinstance(value, str) else b""
            body = canonical_json(_without_signature(document))
        except (ValueError, TypeError):
            return False
        return len(signature) == _SIGNATURE_BYTES and self.verify(body, signature)


class Signer:
    """Signs with one Ed25519 private key; never exposes the private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self._verifier = Verifier(private_key.public_key())

    def __repr__(self) -> str:
        return f"Signer(kid={self.kid!r})"

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> Signer:
        """Load the PEM key at ``path``, creating it (0600, dir 0700) on first run."""
        path = Path(path)
        try:
            return cls.load(path)
        except FileNotFoundError:
            pass
        signer = cls.generate()
        if create_private_file(path, signer._private_pem()):
            logger.info("created signing key %s with kid %s", path, signer.kid)
            return signer
        return cls.load(path)  # another process created it at the same moment

    @classmethod
    def load(cls, path: Path) -> Signer:
        """Load a PKCS#8 PEM Ed25519 key; refused if group or others can access the file."""
        data = read_private_file(Path(path), what="signing key file")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            raise ConfigurationError(
                f"signing key file {path} is not an unencrypted PEM private key"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError(f"signing key file {path} does not hold an Ed25519 key")
        return cls(key)

    @property
    def kid(self) -> str:
        return self._verifier.kid

    @property
    def verifier(self) -> Verifier:
        return self._verifier

    def public_jwk(self) -> dict[str, str]:
        return self._verifier.public_jwk()

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)

    def verify(self, data: bytes, signature: bytes) -> bool:
        return self._verifier.verify(data, signature)

    def sign_document(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``document`` with a ``signature`` block over its canonical JSON."""
        if SIGNATURE_FIELD in document:
            raise ValueError(f'the document already has a "{SIGNATURE_FIELD}" member')
        signature = self.sign(canonical_json(document))
        return {
            **document,
            SIGNATURE_FIELD: {"alg": ALGORITHM, "kid": self.kid, "value": b64url_encode(signature)},
        }

    def _private_pem(self) -> bytes:
        return self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def verify_document(document: Mapping[str, Any], key: Verifier | Mapping[str, Any]) -> bool:
    """Check a signed document against a ``Verifier`` or a public JWK.

    A malformed JWK raises ``CryptoError`` (a configuration problem); anything wrong with the
    document itself just returns False.
    """
    verifier = key if isinstance(key, Verifier) else Verifier.from_jwk(key)
    return verifier.verify_document(document)


def _without_signature(document: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != SIGNATURE_FIELD}


def _thumbprint(raw_public_key: bytes) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order."""
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(raw_public_key)}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode("ascii")
    return b64url_encode(hashlib.sha256(canonical).digest())
