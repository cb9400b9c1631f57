"""Bearer tokens such as gate tokens: shown once, stored only as an HMAC.

A token is ``<prefix>_<43 chars base64url>`` (256 random bits), e.g. ``optin_gate_3q...``. The
prefix makes leaked tokens recognisable (secret scanners, logs) and tells tokens apart by use.

The database keeps ``HMAC-SHA256(secret, token)`` in hex, never the token. A plain hash would
already stop a database reader from using tokens; the keyed HMAC additionally means a stolen
database alone cannot even confirm a guessed token. The secret comes from the master keyring's
stable derivation key (``TokenHasher.from_provider``), so it survives master-key rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from typing import Final

from optin.crypto.keys import KeyProvider

TOKEN_RANDOM_BYTES: Final = 32
TOKEN_HMAC_INFO: Final = b"optin/token-hmac/v1"
MAX_TOKEN_LENGTH: Final = 256
_MIN_SECRET_BYTES: Final = 32
_PREFIX = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_MAX_PREFIX_LENGTH: Final = 32


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued token: show ``plaintext`` once, store only ``digest``."""

    plaintext: str = field(repr=False)
    digest: str


def validate_prefix(prefix: str) -> str:
    """Lower-case words joined by underscores, e.g. ``optin_gate``; ``ValueError`` otherwise."""
    if len(prefix) > _MAX_PREFIX_LENGTH or not _PREFIX.fullmatch(prefix):
        raise ValueError(f"invalid token prefix {prefix!r}")
    return prefix


def has_prefix(token: str, prefix: str) -> bool:
    """Whether ``token`` was issued with ``prefix`` (a cheap pre-check, not a verification)."""
    return token.startswith(validate_prefix(prefix) + "_")


class TokenHasher:
    """Computes and checks the stored digests of tokens."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < _MIN_SECRET_BYTES:
            raise ValueError(f"the token secret must be at least {_MIN_SECRET_BYTES} bytes")
        self._secret = bytes(secret)

    def __repr__(self) -> str:
        return "TokenHasher(<secret>)"

    @classmethod
    def from_provider(cls, provider: KeyProvider) -> TokenHasher:
        return cls(provider.derive_subkey(TOKEN_HMAC_INFO))

    def digest(self, token: str) -> str:
        """64 lowercase hex characters, for a ``token_digest`` column."""
        return hmac.new(self._secret, token.encode("utf-8"), hashlib.sha256).hexdigest()

    def verify(self, token: str, stored_digest: str) -> bool:
        """Constant-time check of a presented token against a stored digest."""
        if len(token) > MAX_TOKEN_LENGTH:
            return False
        computed = self.digest(token).encode("ascii")
        # Bytes, not str: compare_digest refuses non-ASCII str, and a stored value is untrusted.
        return hmac.compare_digest(computed, stored_digest.encode("utf-8"))

    def issue(self, prefix: str) -> IssuedToken:
        token = f"{validate_prefix(prefix)}_{secrets.token_urlsafe(TOKEN_RANDOM_BYTES)}"
        return IssuedToken(plaintext=token, digest=self.digest(token))


def issue_token(prefix: str, hasher: TokenHasher) -> IssuedToken:
    """A new random token with ``prefix`` and its digest (see ``TokenHasher.issue``)."""
    return hasher.issue(prefix)
