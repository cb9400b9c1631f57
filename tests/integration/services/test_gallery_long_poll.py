"""A waiting long-poll must not hold a database connection: 50 gates would drain the pool."""

from __future__ import annotations

import asyncio
import secrets

from optin.crypto.keys import LocalKeyFileProvider
from optin.crypto.subject_keys import SubjectKeys
from optin.db.changelog import append_venue_change
from optin.db.engine import create_engine, session_factory
from optin.db.enums import ChangeAction
from optin.services.gallery import gallery_page
from optin.services.venues import create_venue


async def test_waiting_gates_share_a_one_connection_pool(
    database_url: str, master_keys: LocalKeyFileProvider, subject_keys: SubjectKeys
) -> None:
    # One connection, and a checkout gives up after 2 s: if a waiting long-poll kept its
    # connection for its whole 1.5 s wait, the third gate would time out.
    engine = create_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=2)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            venue = await create_venue(session, master_keys, slug="pool-test", name="Pool")
            # One entry in the change log, so the gates ask for deltas after it.
            since = await append_venue_change(session, venue.id, ChangeAction.REVOKE, "someone")
            await session.commit()

        async def gate() -> str:
            async with sessions() as session:
                page = await gallery_page(
                    session, master_keys, subject_keys, venue, secrets.token_bytes(32), since, 1.5
                )
                return page.kind

        kinds = await asyncio.wait_for(asyncio.gather(*(gate() for _ in range(4))), 30)
        assert kinds == ["delta"] * 4
    finally:
        await engine.dispose()
