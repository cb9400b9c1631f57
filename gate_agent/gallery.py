"""The venue's gallery as the gate holds it: in memory, immutable, replaced as a whole.

``GateConfig`` is what ``GET /agent/config`` says about this gate (the venue, its sealed
transform seed, thresholds, the maximum offline age). ``GalleryState`` is one version of the
gallery: per enrolled person (a venue pseudonym ``ref``) the purposes they consented to here,
their entry entitlement and their templates, already passed through the venue transform by the
server. ``apply`` builds the next version from a snapshot or a delta, so the pipeline always
reads a complete, consistent gallery and a bad payload leaves the last good one in place.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from optin.crypto.gate_wire import open_for_gate
from optin.errors import CryptoError, InvalidInput
from optin.faces.results import EMBEDDING_SIZE
from optin.matching import Gallery, Matrix, venue_transform

TEMPLATE_BYTES = EMBEDDING_SIZE * 4  # little-endian float32


class GalleryError(Exception):
    """A config or gallery payload that cannot be used (malformed, another venue, bad seal)."""


@dataclass(frozen=True, slots=True)
class GateConfig:
    gate_id: str
    gate_name: str
    venue_slug: str
    venue_name: str
    timezone: str
    transform_seed: str = field(repr=False)  # sealed for this gate
    match_threshold: float
    match_margin: float
    max_offline_seconds: int
    operator_name: str
    contact_email: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)  # as received, for the cache
    #: The venue's currency (ISO 4217), when the server says it: what payment mode charges in.
    currency: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> GateConfig:
        try:
            gate, venue, operator = data["gate"], data["venue"], data["operator"]
            config = cls(
                gate_id=str(gate["id"]),
                gate_name=str(gate["name"]),
                venue_slug=str(venue["slug"]),
                venue_name=str(venue["name"]),
                timezone=str(venue.get("timezone", "UTC")),
                transform_seed=str(data["transform_seed"]),
                match_threshold=float(data["match_threshold"]),
                match_margin=float(data["match_margin"]),
                max_offline_seconds=int(data["max_offline_seconds"]),
                operator_name=str(operator["name"]),
                contact_email=str(operator["contact_email"]),
                raw=data,
                currency=str(venue["currency"]).upper() if venue.get("currency") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise GalleryError(f"malformed gate config ({type(exc).__name__}: {exc})") from None
        if not (0 < config.match_threshold < 2 and 0 <= config.match_margin < 2):
            raise GalleryError("gate config has thresholds out of range")
        if config.max_offline_seconds < 0 or not config.venue_slug:
            raise GalleryError("gate config has no venue or a negative offline age")
        return config

    def transform(self, key: bytes) -> Matrix:
        """The venue's orthogonal transform, from the seed sealed for this gate."""
        try:
            seed = open_for_gate(key, self.transform_seed, f"{self.venue_slug}:transform")
            return venue_transform(seed)
        except (CryptoError, InvalidInput, ValueError) as exc:
            raise GalleryError(f"the transform seed does not open: {exc}") from None


@dataclass(frozen=True, slots=True)
class Entry:
    """One enrolled person at this venue, as the gate knows them."""

    ref: str
    purposes: frozenset[str]
    entry_until: datetime | None
    templates: Matrix = field(repr=False, compare=False)  # k x 128, transformed


class GalleryState:
    """One immutable version of a venue's gallery, searchable per person."""

    def __init__(self, venue: str, sequence: int, entries: Iterable[Entry] = ()) -> None:
        self.venue = venue
        self.sequence = sequence
        self.entries: Mapping[str, Entry] = {entry.ref: entry for entry in entries}
        # One matrix of every template, rows grouped by person, and where each person starts:
        # the nearest template per person is one reduceat over the distance vector.
        people = [entry for entry in self.entries.values() if len(entry.templates)]
        self.refs: tuple[str, ...] = tuple(entry.ref for entry in people)
        counts = [len(entry.templates) for entry in people]
        self.offsets: npt.NDArray[np.intp] = np.cumsum([0, *counts[:-1]], dtype=np.intp)
        self.gallery = Gallery(
            np.concatenate([entry.templates for entry in people])
            if people
            else np.empty((0, EMBEDDING_SIZE), dtype=np.float32)
        )

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"GalleryState(venue={self.venue!r}, sequence={self.sequence}, people={len(self)})"

    def person_distances(self, probe: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """The distance from a (transformed) probe to each person's nearest template."""
        if not self.refs:
            return np.empty(0, dtype=np.float32)
        distances = self.gallery.distances(probe)
        result: npt.NDArray[np.float32] = np.minimum.reduceat(distances, self.offsets)
        return result

    def apply(self, payload: Any, key: bytes) -> GalleryState:
        """The next version after a ``GET /agent/gallery`` answer (snapshot or delta)."""
        try:
            venue = str(payload["venue"])
            kind = payload["kind"]
            sequence = int(payload["sequence"])
            raw_entries = list(payload["entries"])
        except (KeyError, TypeError, ValueError) as exc:
            raise GalleryError(f"malformed gallery ({type(exc).__name__}: {exc})") from None
        if venue != self.venue:
            raise GalleryError(f"the gallery is for venue {venue!r}, not {self.venue!r}")
        if kind == "snapshot":
            entries: dict[str, Entry] = {}
        elif kind == "delta":
            if sequence < self.sequence:
                raise GalleryError(f"delta goes back from sequence {self.sequence} to {sequence}")
            entries = dict(self.entries)
        else:
            raise GalleryError(f"unknown gallery kind {kind!r}")
        for raw in raw_entries:
            action, ref = _field(raw, "action"), _field(raw, "ref")
            if action == "revoke":
                entries.pop(ref, None)
            elif action == "add":
                entries[ref] = _open_entry(raw, venue, key)
            else:
                raise GalleryError(f"unknown gallery action {action!r}")
        return GalleryState(venue, sequence, entries.values())

    # --- the offline cache's form: plain JSON, sealed as a whole by ``gate_agent.cache`` ------

    def to_json(self) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "sequence": self.sequence,
            "entries": [
                {
                    "ref": entry.ref,
                    "purposes": sorted(entry.purposes),
                    "entry_until": entry.entry_until.isoformat() if entry.entry_until else None,
                    "templates": base64.b64encode(
                        np.ascontiguousarray(entry.templates, dtype="<f4").tobytes()
                    ).decode("ascii"),
                }
                for entry in self.entries.values()
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> GalleryState:
        try:
            entries = []
            for raw in data["entries"]:
                blob = base64.b64decode(raw["templates"], validate=True)
                matrix = np.frombuffer(blob, dtype="<f4").astype(np.float32).reshape(-1, 128)
                entries.append(
                    Entry(
                        ref=str(raw["ref"]),
                        purposes=frozenset(map(str, raw["purposes"])),
                        entry_until=_instant(raw["entry_until"]),
                        templates=matrix,
                    )
                )
            return cls(str(data["venue"]), int(data["sequence"]), entries)
        except (KeyError, TypeError, ValueError) as exc:
            raise GalleryError(f"malformed cached gallery ({type(exc).__name__})") from None


def _field(raw: Any, name: str) -> str:
    try:
        value = raw[name]
    except (KeyError, TypeError):
        raise GalleryError(f"a gallery entry has no {name!r}") from None
    if not isinstance(value, str) or not value:
        raise GalleryError(f"a gallery entry's {name!r} is not a string")
    return value


def _open_entry(raw: Any, venue: str, key: bytes) -> Entry:
    ref = _field(raw, "ref")
    try:
        sealed = list(raw["templates"])
        purposes = frozenset(map(str, raw["purposes"]))
        entry_until = _instant(raw.get("entry_until"))
    except (KeyError, TypeError, ValueError) as exc:
        raise GalleryError(f"malformed gallery entry ({type(exc).__name__})") from None
    rows = []
    for template in sealed:
        try:
            plain = open_for_gate(key, str(template), f"{venue}:{ref}")
        except (CryptoError, ValueError):
            raise GalleryError("a template does not open with this gate's key") from None
        if len(plain) != TEMPLATE_BYTES:
            raise GalleryError(f"a template has {len(plain)} bytes, not {TEMPLATE_BYTES}")
        vector = np.frombuffer(plain, dtype="<f4").astype(np.float32)
        if not np.isfinite(vector).all():
            raise GalleryError("a template holds a value that is not a finite number")
        rows.append(vector)
    templates = np.array(rows, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
    templates.setflags(write=False)
    return Entry(ref=ref, purposes=purposes, entry_until=entry_until, templates=templates)


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    instant = datetime.fromisoformat(str(value))
    if instant.tzinfo is None:
        raise ValueError("entry_until has no time zone")
    return instant
