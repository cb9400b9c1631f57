"""What the app holds for its lifetime: settings, keys, the database engine and sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from optin.config import Settings
from optin.mail import MailSender
from optin.payments.provider import PaymentProvider, provider_from_settings
from optin.runtime import Keys
from optin.services.portal_sessions import AttemptLimiter


@dataclass
class AppServices:
    settings: Settings
    keys: Keys
    mailer: MailSender
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    schema_head: str | None
    # Per process: wrong recovery codes by client address, never written anywhere.
    recovery_limiter: AttemptLimiter = field(default_factory=AttemptLimiter)
    # Per process, by client address: enrollment submissions, failed console sign-ins.
    enrollment_limiter: AttemptLimiter = field(init=False)
    sign_in_limiter: AttemptLimiter = field(init=False)
    # Made on first use: an app that never takes a payment never needs the provider.
    _payment_provider: PaymentProvider | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.enrollment_limiter = AttemptLimiter(
            limit=self.settings.enrollment.submissions_per_minute,
            window=60.0,
            message="too many enrollments from this address; wait a minute and try again",
        )
        console = self.settings.console
        self.sign_in_limiter = AttemptLimiter(
            limit=console.sign_in_failures_per_address,
            window=console.lockout_minutes * 60.0,
            message="too many failed sign-ins from this address; wait a few minutes",
        )

    def payment_provider(self) -> PaymentProvider:
        if self._payment_provider is None:
            self._payment_provider = provider_from_settings(self.settings.payments)
        return self._payment_provider

    async def aclose(self) -> None:
        if self._payment_provider is not None:
            await self._payment_provider.aclose()
            self._payment_provider = None


def services_from(state: State) -> AppServices:
    services = state["services"]
    assert isinstance(services, AppServices)
    return services


async def provide_services(state: State) -> AppServices:
    return services_from(state)


async def provide_db_session(state: State) -> AsyncIterator[AsyncSession]:
    """One session per request; services decide when to commit."""
    async with services_from(state).sessions() as session:
        yield session


# Handler parameters name their dependencies explicitly (Litestar 3 stops inferring them).
DbSession = NamedDependency[AsyncSession]
Services = NamedDependency[AppServices]
