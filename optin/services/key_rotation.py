"""Master key rotation without downtime: a new current key, then every wrapped key re-sealed.

What the master key wraps: each person's data key (in the subject key store), each venue's key
(``venues.transform_key_wrapped``) and each operator's TOTP secret. The data keys themselves do
not change, so no template, contact or token is re-encrypted. Old master keys stay in the
keyring: a server that has not noticed the rotation yet keeps wrapping with the previous key
(still readable), and reloads the keyring the first time it meets the new key id. ``usage``
shows what is still under which key, so an old key is only retired once nothing needs it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.crypto.data_keys import needs_rewrap, rewrap_data_key
from optin.crypto.envelope import peek_key_id
from optin.crypto.venue_keys import VENUE_KEY_OWNER
from optin.db.models import Operator, Venue
from optin.runtime import Keys
from optin.services.audit import Actor, record
from optin.services.operators import rewrap_totp_secret


@dataclass(frozen=True)
class Rotation:
    new_key_id: str
    subject_keys: int
    venue_keys: int
    totp_secrets: int

    def as_dict(self) -> dict[str, object]:
        return {
            "new_key_id": self.new_key_id,
            "rewrapped": {
                "subject_keys": self.subject_keys,
                "venue_keys": self.venue_keys,
                "totp_secrets": self.totp_secrets,
            },
        }


async def rewrap_database(session: AsyncSession, keys: Keys) -> tuple[int, int]:
    """Re-seal venue keys and TOTP secrets still under an old master key (caller commits)."""
    venues = 0
    for venue in (await session.scalars(select(Venue))).all():
        if needs_rewrap(keys.master, venue.transform_key_wrapped):
            venue.transform_key_wrapped = rewrap_data_key(
                keys.master, venue.transform_key_wrapped, venue.id, owner_kind=VENUE_KEY_OWNER
            )
            venues += 1
    secrets = 0
    for operator in (await session.scalars(select(Operator))).all():
        wrapped = operator.totp_secret_ciphertext
        if wrapped is not None and needs_rewrap(keys.master, wrapped):
            operator.totp_secret_ciphertext = rewrap_totp_secret(keys.master, operator)
            secrets += 1
    return venues, secrets


async def rotate_master_key(session: AsyncSession, keys: Keys) -> Rotation:
    """Add a new current master key, then re-wrap everything under it; commits."""
    new_key_id = await asyncio.to_thread(keys.master.rotate)
    subject_keys = await asyncio.to_thread(keys.subjects.rewrap_all)
    venues, secrets = await rewrap_database(session, keys)
    rotation = Rotation(new_key_id, subject_keys, venues, secrets)
    await record(session, Actor.system(), "keys.master_rotated", details=rotation.as_dict())
    await session.commit()
    return rotation


async def usage(session: AsyncSession, keys: Keys) -> dict[str, dict[str, int]]:
    """For each master key id: how many wrapped keys of each kind it still protects."""

    def subject_usage() -> Counter[str]:
        counts: Counter[str] = Counter()
        store = keys.subjects.store
        for subject_id in store.subject_ids():
            wrapped = store.get(subject_id)
            if wrapped is not None:
                counts[peek_key_id(wrapped)] += 1
        return counts

    table: dict[str, dict[str, int]] = {
        key_id: {"subject_keys": 0, "venue_keys": 0, "totp_secrets": 0}
        for key_id in keys.master.key_ids()
    }

    def add(kind: str, counts: Counter[str]) -> None:
        for key_id, count in counts.items():
            table.setdefault(key_id, {"subject_keys": 0, "venue_keys": 0, "totp_secrets": 0})
            table[key_id][kind] += count

    add("subject_keys", await asyncio.to_thread(subject_usage))
    venue_blobs = (await session.scalars(select(Venue.transform_key_wrapped))).all()
    add("venue_keys", Counter(peek_key_id(blob) for blob in venue_blobs))
    totp_blobs = (
        await session.scalars(
            select(Operator.totp_secret_ciphertext).where(
                Operator.totp_secret_ciphertext.is_not(None)
            )
        )
    ).all()
    add("totp_secrets", Counter(peek_key_id(blob) for blob in totp_blobs if blob))
    return table
