"""Portal sign-in: a one-time mailed link or the recovery code, then a short-lived session.

Link tokens, recovery codes, session cookies and CSRF tokens are all stored only as HMACs.
Links work once and expire; sessions end at sign-out, after an idle period, and at an absolute
limit. Wrong recovery codes are rate-limited per client (in memory: addresses are personal data
and are never written down).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.crypto.tokens import TokenHasher
from optin.db.base import utcnow, uuid7
from optin.db.engine import begin_writing
from optin.db.enums import SubjectStatus
from optin.db.models import PortalSession, SignInLink, Subject
from optin.errors import OptinError, Unauthorized
from optin.services.enrollment import normalise_recovery_code

SESSION_PREFIX: Final = "optin_portal"
CSRF_PREFIX: Final = "optin_csrf"
SESSION_LIMIT: Final = timedelta(hours=2)
SESSION_IDLE: Final = timedelta(minutes=20)


class TooManyAttempts(OptinError):
    code = "too-many-requests"
    title = "Too many attempts"
    status = 429


@dataclass(frozen=True)
class SignedIn:
    session: PortalSession
    cookie: str = field(repr=False)
    csrf: str = field(repr=False)


class AttemptLimiter:
    """At most ``limit`` counted attempts per key (a client address) in ``window`` seconds.

    Count only failures with ``failed`` (wrong recovery codes, console sign-ins) or every attempt
    with ``attempt`` (a plain rate limit: enrollment submissions). In memory, per process: the
    addresses are personal data and are never written down. ``TooManyAttempts`` carries
    ``retry_after``, the seconds until the oldest counted attempt leaves the window.
    """

    def __init__(
        self,
        limit: int = 5,
        window: float = 900.0,
        message: str = "too many wrong codes; wait a few minutes and try again",
    ) -> None:
        self._limit = limit
        self._window = window
        self._message = message
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def check(self, key: str) -> None:
        now = time.monotonic()
        failures = self._failures.get(key)
        if failures is None:
            return
        while failures and now - failures[0] > self._window:
            failures.popleft()
        if not failures:
            del self._failures[key]  # the table only holds clients seen in the window
        elif len(failures) >= self._limit:
            wait = max(1, math.ceil(self._window - (now - failures[0])))
            raise TooManyAttempts(self._message, retry_after=wait)

    def failed(self, key: str) -> None:
        self._failures[key].append(time.monotonic())

    def attempt(self, key: str) -> None:
        """Refuse over the limit, else count this attempt whatever its outcome."""
        self.check(key)
        self.failed(key)


async def _open_session(session: AsyncSession, tokens: TokenHasher, subject: Subject) -> SignedIn:
    now = utcnow()
    cookie = tokens.issue(SESSION_PREFIX)
    csrf = tokens.issue(CSRF_PREFIX)
    portal = PortalSession(
        id=uuid7(),
        subject_id=subject.id,
        token_digest=cookie.digest,
        csrf_digest=csrf.digest,
        expires_at=now + SESSION_LIMIT,
        last_seen_at=now,
    )
    session.add(portal)
    await session.commit()
    return SignedIn(portal, cookie.plaintext, csrf.plaintext)


async def sign_in_with_link(session: AsyncSession, tokens: TokenHasher, token: str) -> SignedIn:
    refused = Unauthorized("this sign-in link is not valid, was used already or has expired")
    link = await session.scalar(
        select(SignInLink).where(SignInLink.token_digest == tokens.digest(token))
    )
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        raise refused
    subject = await session.get(Subject, link.subject_id)
    if subject is None or subject.status != SubjectStatus.ACTIVE:
        raise refused
    link.used_at = utcnow()
    return await _open_session(session, tokens, subject)


async def sign_in_with_recovery_code(
    session: AsyncSession, tokens: TokenHasher, code: str, client: str, limiter: AttemptLimiter
) -> SignedIn:
    limiter.check(client)
    digest = tokens.digest(normalise_recovery_code(code))
    subject = await session.scalar(
        select(Subject).where(
            Subject.recovery_code_digest == digest, Subject.status == SubjectStatus.ACTIVE
        )
    )
    if subject is None:
        limiter.failed(client)
        raise Unauthorized("this recovery code is not valid")
    return await _open_session(session, tokens, subject)


async def current_session(
    session: AsyncSession, tokens: TokenHasher, cookie: str | None
) -> PortalSession:
    """The live session for a cookie (its idle clock restarts); ``Unauthorized`` otherwise."""
    if not cookie:
        raise Unauthorized("please sign in")
    # Reads the session, then writes its idle clock: on SQLite take the write lock first, or a
    # writer committing in between (the mail sender) fails this with "database is locked".
    await begin_writing(session)
    portal = await session.scalar(
        select(PortalSession).where(PortalSession.token_digest == tokens.digest(cookie))
    )
    now = utcnow()
    if (
        portal is None
        or portal.ended_at is not None
        or portal.expires_at <= now
        or portal.last_seen_at + SESSION_IDLE <= now
    ):
        raise Unauthorized("your session has ended; please sign in again")
    portal.last_seen_at = now
    await session.commit()
    return portal


def check_csrf(tokens: TokenHasher, portal: PortalSession, presented: str | None) -> None:
    if not presented or not tokens.verify(presented, portal.csrf_digest):
        raise Unauthorized("the form is out of date; reload the page and try again")


async def sign_out(session: AsyncSession, portal: PortalSession) -> None:
    portal.ended_at = utcnow()
    await session.commit()
