"""What a venue's key derives for its gallery, kept between gallery requests of this process.

Every delta needs the venue's transform (a 128x128 QR decomposition) and the pseudonym of each
person consenting at the venue (to find who changed), and every gate of the venue asks for each
change. Both depend only on the venue key, so they are kept per venue and per *key version*: the
wrapped key as stored. Rotating the venue key or the master key (``optin keys rotate``
re-wraps it) changes the stored blob, so the next request derives everything afresh and the old
material is dropped at once (one version per venue is kept).

Who is in the gallery is never cached: the caller reads the consenting people on every request
and asks for exactly their pseudonyms. The memo of pseudonyms is cut down to that set each time,
so a person who withdrew or was deleted leaves this process's memory with the next request.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

from optin.crypto.keys import KeyProvider
from optin.crypto.venue_keys import VenueKey
from optin.matching import Matrix, venue_transform

MAX_VENUES: Final = 256


@dataclass
class VenueMaterial:
    key: VenueKey
    matrix: Matrix
    _refs: dict[UUID, str] = field(default_factory=dict, repr=False)

    def remembers(self, subject_id: UUID) -> bool:
        return subject_id in self._refs

    def pseudonyms(self, people: Iterable[UUID], *, complete: bool) -> dict[UUID, str]:
        """Each person's venue pseudonym. ``complete``: ``people`` is everyone consenting at
        the venue now, so anyone else is forgotten."""
        refs = {
            subject: self._refs.get(subject) or self.key.pseudonym(subject) for subject in people
        }
        if complete:
            self._refs = dict(refs)
        else:
            self._refs.update(refs)
        return refs


class VenueMaterialCache:
    """Venue id -> the material of its current key version (least recently used dropped)."""

    def __init__(self, max_venues: int = MAX_VENUES) -> None:
        self._max = max_venues
        self._entries: OrderedDict[UUID, tuple[bytes, VenueMaterial]] = OrderedDict()

    def get(self, master: KeyProvider, venue_id: UUID, wrapped: bytes) -> VenueMaterial:
        version = hashlib.sha256(wrapped).digest()
        cached = self._entries.get(venue_id)
        if cached is not None and cached[0] == version:
            self._entries.move_to_end(venue_id)
            return cached[1]
        key = VenueKey.unwrap(master, venue_id, wrapped)
        material = VenueMaterial(key, venue_transform(key.transform_seed()))
        self._entries[venue_id] = (version, material)
        self._entries.move_to_end(venue_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return material

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


materials = VenueMaterialCache()
