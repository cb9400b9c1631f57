"""Cryptography for optin: envelopes, master and data keys, passwords, tokens, signatures.

- envelope:  versioned AES-256-GCM envelope naming its key id, header authenticated.
- records:   sealing one record under a subject's data key, bound to kind/subject/record id.
- keys:      ``KeyProvider`` protocol; local key-file provider with rotation; HKDF sub-keys.
- data_keys: per-subject data keys wrapped by the master key (crypto-shredding).
- passwords: argon2id, with async variants that run off the event loop.
- tokens:    prefixed random bearer tokens stored as HMAC-SHA256.
- signing:   Ed25519 signer/verifier, JWK export, signed canonical-JSON documents.
"""

from optin.crypto.data_keys import (
    DataKey,
    needs_rewrap,
    new_data_key,
    rewrap_data_key,
    unwrap_data_key,
    wrap_data_key,
    wrapped_key_aad,
)
from optin.crypto.envelope import open_envelope, peek_key_id, seal
from optin.crypto.keys import InMemoryKeyProvider, KeyProvider, Keyring, LocalKeyFileProvider
from optin.crypto.passwords import (
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)
from optin.crypto.records import RecordKind, RecordRef, open_record, record_aad, seal_record
from optin.crypto.signing import Signer, Verifier, canonical_json, verify_document
from optin.crypto.tokens import IssuedToken, TokenHasher, issue_token

__all__ = [
    "DataKey",
    "InMemoryKeyProvider",
    "IssuedToken",
    "KeyProvider",
    "Keyring",
    "LocalKeyFileProvider",
    "RecordKind",
    "RecordRef",
    "Signer",
    "TokenHasher",
    "Verifier",
    "canonical_json",
    "hash_password",
    "hash_password_async",
    "issue_token",
    "needs_rehash",
    "needs_rewrap",
    "new_data_key",
    "open_envelope",
    "open_record",
    "peek_key_id",
    "record_aad",
    "rewrap_data_key",
    "seal",
    "seal_record",
    "unwrap_data_key",
    "verify_document",
    "verify_password",
    "verify_password_async",
    "wrap_data_key",
    "wrapped_key_aad",
]
