"""The retention sweep compacts the venue change log; gates that lag behind it resync.

Over real HTTP (``optin serve``) on SQLite and PostgreSQL: two people enrol, a lagging gate
takes a snapshot, one person withdraws, a current gate takes a snapshot. Once the changes are
older than ``OPTIN_RETENTION_VENUE_CHANGE_DAYS`` the sweep purges them (the withdrawn person's
pseudonym with them); a third person enrols. The lagging gate, whose ``since`` is now older than
the oldest change kept, is sent a snapshot without the withdrawn person; the current gate still
gets a plain delta with just the newcomer.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func, select, update

from optin.config import RetentionSettings
from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.models import Venue, VenueChange
from optin.services.consents import withdraw
from optin.services.gallery import venue_key
from optin.services.retention import sweep

from support.enrollment_world import EnrollmentWorld
from support.served_app import served
from support.served_world import enroll, gallery, gate_token


async def test_a_gate_behind_the_compacted_log_gets_a_snapshot(world: EnrollmentWorld) -> None:
    periods = RetentionSettings()
    engine = create_engine(world.settings.database_url)
    with served(world.env()) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            staying = await enroll(http, world, "obama/obama_4.jpg", "obama@example.org")
            leaving = await enroll(http, world, "kit_harington/kit_harington_1.jpg", "kit@e.org")
            lagging, current = await gate_token(world), await gate_token(world)
            lagging_seq = (await gallery(http, lagging))["sequence"]

            async with session_factory(engine)() as session:
                await withdraw(session, world.keys, uuid.UUID(leaving))
            current_page = await gallery(http, current)
            assert len(current_page["entries"]) == 1

            async with session_factory(engine)() as session:
                # Every change so far is older than the period; the sweep purges them all.
                old = utcnow() - timedelta(days=periods.venue_change_days, hours=1)
                await session.execute(update(VenueChange).values(created_at=old))
                await session.commit()
                result = await sweep(session, world.keys, periods=periods)
                assert result.purged["venue_changes"] >= 3
                venue = await session.scalar(select(Venue).where(Venue.slug == "onsen-hotel"))
                assert venue is not None
                key = venue_key(world.keys.master, venue)
                refs = {who: key.pseudonym(uuid.UUID(who)) for who in (staying, leaving)}

            newcomer = await enroll(
                http, world, "rose_leslie/rose_leslie_1.jpg", "rose@example.org"
            )
            refs[newcomer] = key.pseudonym(uuid.UUID(newcomer))
            async with session_factory(engine)() as session:
                kept = await session.scalar(select(func.count()).select_from(VenueChange))
            assert kept == 1  # only the newcomer's

            behind = await gallery(http, lagging, since=lagging_seq)
            assert behind["kind"] == "snapshot"
            assert {e["ref"] for e in behind["entries"]} == {refs[staying], refs[newcomer]}
            assert {e["action"] for e in behind["entries"]} == {"add"}

            delta = await gallery(http, current, since=current_page["sequence"])
            assert delta["kind"] == "delta"
            assert [(e["ref"], e["action"]) for e in delta["entries"]] == [(refs[newcomer], "add")]
            assert delta["sequence"] == current_page["sequence"] + 1
            # Up to date: nothing new, and no needless snapshot.
            idle = await gallery(http, current, since=delta["sequence"])
            assert (idle["kind"], idle["entries"]) == ("delta", [])
    await engine.dispose()
