"""What the app holds for its lifetime: settings, the database engine and a session factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from optin.config import Settings


@dataclass
class AppServices:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    schema_head: str | None


def services_from(state: State) -> AppServices:
    services = state["services"]
    assert isinstance(services, AppServices)
    return services


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request; services decide when to commit."""
    async with services_from(state).sessions() as session:
        yield session
