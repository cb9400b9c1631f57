"""What travels from the server to one gate, encrypted for that gate alone.

The gate's key is derived from its bearer token (HKDF), so the server stores nothing new: it
holds only the token's HMAC, and derives the key from the token the gate presents on each
request. Gallery templates and the venue's transform seed go over the wire, and sit in the
gate's offline cache, sealed under this key; without the gate's token they are noise.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from optin.crypto._b64 import b64url_decode, b64url_encode
from optin.crypto.envelope import KEY_BYTES, open_envelope, seal

_SALT: Final = b"optin/gate-wire/v1"
_KEY_ID: Final = "gate"


def gate_key(token: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_SALT, info=b"gallery").derive(
        token.encode("utf-8")
    )


def seal_for_gate(key: bytes, plaintext: bytes, aad: str) -> str:
    """base64url of a versioned AES-256-GCM envelope bound to ``aad`` (e.g. venue and ref)."""
    return b64url_encode(seal(key, _KEY_ID, plaintext, aad.encode("utf-8")))


def open_for_gate(key: bytes, sealed: str, aad: str) -> bytes:
    """Inverse of ``seal_for_gate``; ``CryptoError`` on a wrong key, AAD or tampering."""
    return open_envelope({_KEY_ID: key}, b64url_decode(sealed), aad.encode("utf-8"))
