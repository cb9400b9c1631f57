"""What a venue's gates know: its consented people's templates, and every change to them.

A gate downloads a snapshot once, then long-polls for deltas from the venue's change log. What
leaves the server is per venue and per gate: people appear under their venue pseudonym, their
templates pass through the venue's orthogonal transform, and each template is sealed under a
key derived from the gate's own token.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.crypto.gate_wire import seal_for_gate
from optin.crypto.keys import KeyProvider
from optin.crypto.subject_keys import SubjectKeys
from optin.crypto.venue_keys import VenueKey
from optin.db.base import utcnow
from optin.db.changelog import append_venue_change, venue_changes_since
from optin.db.enums import ChangeAction, Purpose, SubjectStatus
from optin.db.models import Consent, FaceTemplate, Subject, Venue
from optin.matching import transform
from optin.services.entitlements import entry_until
from optin.services.gallery_cache import VenueMaterial, materials
from optin.services.templates import open_live_templates

MAX_WAIT_SECONDS: Final = 30.0
_POLL_SECONDS: Final = 0.25


class ChangeNotifier:
    """Wakes long-polling gates of a venue as soon as its change log grows (this process).

    Other processes' changes are still seen: the long-poll also re-reads the sequence every
    quarter second, so several workers need no shared bus.
    """

    def __init__(self) -> None:
        self._events: dict[UUID, asyncio.Event] = defaultdict(asyncio.Event)

    def notify(self, venue_ids: Iterable[UUID]) -> None:
        for venue_id in venue_ids:
            event = self._events.pop(venue_id, None)
            if event is not None:
                event.set()

    async def wait(self, venue_id: UUID, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._events[venue_id].wait(), seconds)


changes = ChangeNotifier()


def _material(master: KeyProvider, venue: Venue) -> VenueMaterial:
    return materials.get(master, venue.id, venue.transform_key_wrapped)


async def _fresh_material(
    session: AsyncSession, master: KeyProvider, venue: Venue
) -> VenueMaterial:
    wrapped = await session.scalar(select(Venue.transform_key_wrapped).where(Venue.id == venue.id))
    return materials.get(master, venue.id, wrapped or venue.transform_key_wrapped)


def venue_key(master: KeyProvider, venue: Venue) -> VenueKey:
    return VenueKey.unwrap(master, venue.id, venue.transform_key_wrapped)


async def record_change(
    session: AsyncSession,
    master: KeyProvider,
    venues: Sequence[Venue],
    subject_id: UUID,
    action: ChangeAction,
) -> None:
    """Log that a person was added to or revoked from each venue (caller commits, then
    calls ``changes.notify``).

    Venues are taken in id order, the one order of every writer (renewal's too): each append
    locks its venue's row until the commit, and two transactions locking two venues in opposite
    orders deadlock on PostgreSQL (an enrollment and a deletion did, under load)."""
    for venue in sorted(venues, key=lambda venue: venue.id):
        ref = venue_key(master, venue).pseudonym(subject_id)
        await append_venue_change(session, venue.id, action, ref)


@dataclass
class GalleryEntry:
    ref: str
    action: Literal["add", "revoke"]
    templates: list[str] = field(default_factory=list)
    purposes: list[str] = field(default_factory=list)
    entry_until: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.action == "revoke":
            return {"ref": self.ref, "action": "revoke"}
        return {
            "ref": self.ref,
            "action": "add",
            "templates": self.templates,
            "purposes": self.purposes,
            "entry_until": self.entry_until.isoformat() if self.entry_until else None,
        }


@dataclass
class GalleryPage:
    kind: Literal["snapshot", "delta"]
    sequence: int
    entries: list[GalleryEntry]


async def current_sequence(session: AsyncSession, venue_id: UUID) -> int:
    seq = await session.scalar(select(Venue.last_change_seq).where(Venue.id == venue_id))
    return int(seq or 0)


async def _consenting(session: AsyncSession, venue_id: UUID) -> dict[UUID, list[str]]:
    """Active people with a live consent at the venue, and the purposes consented to.

    A consent waiting for renewal (a later notice changed what its purpose means) is live but
    not usable: gates do not get it until the person agrees to the new text.
    """
    rows = await session.execute(
        select(Consent.subject_id, Consent.purpose)
        .join(Subject, Subject.id == Consent.subject_id)
        .where(
            Consent.venue_id == venue_id,
            Consent.withdrawn_at.is_(None),
            Consent.renewal_required_at.is_(None),
            Subject.status == SubjectStatus.ACTIVE,
        )
    )
    purposes: dict[UUID, list[str]] = defaultdict(list)
    for subject_id, purpose in rows.all():
        purposes[subject_id].append(str(Purpose(purpose)))
    return {subject: sorted(set(p)) for subject, p in purposes.items()}


async def _entries(
    session: AsyncSession,
    keys: SubjectKeys,
    venue: Venue,
    material: VenueMaterial,
    gate_key: bytes,
    people: dict[UUID, list[str]],
    refs: dict[UUID, str],
) -> list[GalleryEntry]:
    if not people:
        return []
    rows = (
        await session.execute(
            select(FaceTemplate.id, FaceTemplate.subject_id, FaceTemplate.ciphertext)
            .where(FaceTemplate.subject_id.in_(list(people)))
            .order_by(FaceTemplate.subject_id, FaceTemplate.id)
        )
    ).all()
    until = await entry_until(session, venue.id, list(people), utcnow())
    matrix = material.matrix

    def build() -> list[GalleryEntry]:
        entries: dict[UUID, GalleryEntry] = {}
        # Someone being deleted this moment is left out (their revocation follows in the
        # change log) rather than failing the whole venue's gallery.
        for subject_id, vector in open_live_templates(keys, rows):
            entry = entries.get(subject_id)
            if entry is None:
                entry = entries[subject_id] = GalleryEntry(
                    ref=refs[subject_id],
                    action="add",
                    purposes=people[subject_id],
                    entry_until=until.get(subject_id),
                )
            moved = transform(matrix, vector).astype("<f4").tobytes()
            entry.templates.append(seal_for_gate(gate_key, moved, f"{venue.slug}:{entry.ref}"))
        return list(entries.values())

    return await asyncio.to_thread(build)


async def _snapshot(
    session: AsyncSession,
    keys: SubjectKeys,
    venue: Venue,
    material: VenueMaterial,
    gate_key: bytes,
) -> list[GalleryEntry]:
    people = await _consenting(session, venue.id)
    refs = material.pseudonyms(people, complete=True)
    return await _entries(session, keys, venue, material, gate_key, people, refs)


async def gallery_page(
    session: AsyncSession,
    master: KeyProvider,
    keys: SubjectKeys,
    venue: Venue,
    gate_key: bytes,
    since: int,
    wait: float = 0.0,
) -> GalleryPage:
    """A snapshot (``since`` 0, beyond what this venue ever numbered, or before the oldest
    change the retention sweep kept) or the delta after it.

    With nothing new, waits up to ``wait`` seconds for a change before answering an empty delta.
    """
    material = _material(master, venue)
    sequence = await current_sequence(session, venue.id)
    if since <= 0 or since > sequence:
        return GalleryPage(
            "snapshot", sequence, await _snapshot(session, keys, venue, material, gate_key)
        )
    deadline = asyncio.get_running_loop().time() + min(max(wait, 0.0), MAX_WAIT_SECONDS)
    while sequence == since:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return GalleryPage("delta", sequence, [])
        # End the read transaction before waiting: the connection goes back to the pool (50
        # gates waiting must not hold 50 connections), and the next read sees what others
        # committed meanwhile (SQLite keeps a snapshot per transaction). Commit, not rollback:
        # a rollback would expire the loaded venue, and async code cannot reload it lazily.
        await session.commit()
        await changes.wait(venue.id, min(remaining, _POLL_SECONDS))
        sequence = await current_sequence(session, venue.id)
    rotated = await session.scalar(select(Venue.key_rotated_seq).where(Venue.id == venue.id))
    if since < int(rotated or 0):
        # The venue key changed after this gate's last sync: its pseudonyms and transform are
        # stale, so it starts again from a snapshot made with the new key.
        material = await _fresh_material(session, master, venue)
        return GalleryPage(
            "snapshot", sequence, await _snapshot(session, keys, venue, material, gate_key)
        )
    logged = await venue_changes_since(session, venue.id, since, limit=10_000)
    if not logged or logged[0].seq != since + 1:
        # The changes right after ``since`` were purged (optin/services/retention.py): the
        # delta would miss them, so this gate starts again from a snapshot.
        return GalleryPage(
            "snapshot", sequence, await _snapshot(session, keys, venue, material, gate_key)
        )
    last_action: dict[str, ChangeAction] = {}
    for change in logged:
        last_action[change.subject_ref] = ChangeAction(change.action)
    sequence = max((change.seq for change in logged), default=sequence)
    # Who consents is read now, never cached: someone withdrawn since is in no one's gallery.
    people = await _consenting(session, venue.id)
    refs = material.pseudonyms(people, complete=True)
    by_ref = {ref: subject_id for subject_id, ref in refs.items()}
    wanted = {
        by_ref[ref]: people[by_ref[ref]]
        for ref, action in last_action.items()
        if action == ChangeAction.ADD and ref in by_ref
    }
    added = await _entries(session, keys, venue, material, gate_key, wanted, refs)
    added_refs = {entry.ref for entry in added}
    revoked = [
        GalleryEntry(ref=ref, action="revoke") for ref in last_action if ref not in added_refs
    ]
    return GalleryPage("delta", sequence, revoked + added)


def transform_seed_for_gate(master: KeyProvider, venue: Venue, gate_key: bytes) -> str:
    return seal_for_gate(
        gate_key, _material(master, venue).key.transform_seed(), f"{venue.slug}:transform"
    )
