"""A venue's key and what it derives: per-venue pseudonyms and the gallery transform seed.

Each venue has its own random key (wrapped by the master key in ``venues``). From it:
- a person's *venue pseudonym*, an HMAC of their central id, so the same person has unrelated
  identifiers at two venues and a venue never sees the central id;
- the seed of the venue's orthogonal gallery transform (see ``optin.matching.venue_transform``),
  so one venue's templates do not match another venue's.
Rotating a venue key re-issues both (renewable templates).
"""

from __future__ import annotations

import hashlib
import hmac
from base64 import b32encode
from typing import Final
from uuid import UUID

from optin.crypto.data_keys import unwrap_data_key
from optin.crypto.keys import KeyProvider

VENUE_KEY_OWNER: Final = "venue"
_PSEUDONYM: Final = b"optin/venue-pseudonym/v1\x00"
_TRANSFORM: Final = b"optin/venue-transform/v1"


class VenueKey:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "VenueKey(<secret>)"

    @classmethod
    def unwrap(cls, master: KeyProvider, venue_id: UUID, wrapped: bytes) -> VenueKey:
        return cls(unwrap_data_key(master, wrapped, venue_id, owner_kind=VENUE_KEY_OWNER).key)

    def pseudonym(self, subject_id: UUID) -> str:
        digest = hmac.digest(self._key, _PSEUDONYM + subject_id.bytes, hashlib.sha256)
        return "v_" + b32encode(digest[:15]).decode("ascii").lower()

    def transform_seed(self) -> bytes:
        return hmac.digest(self._key, _TRANSFORM, hashlib.sha256)
