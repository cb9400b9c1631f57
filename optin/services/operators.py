"""Operator accounts: creation, sign-in (argon2id password + TOTP), lock-out and sessions.

Sign-in checks the credentials first and the leak-prevention rules (network, hours, registered
device) second, so the rules reveal nothing to someone without the password. Every refusal and
every sign-in is audited. Sessions end at sign-out, after an idle period, at an absolute limit,
and at the end of the operator's allowed hours; a request from a network outside the allowed ones
ends the session, and so does revoking the device it was opened on.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optin.config import ConsoleSettings
from optin.crypto import totp
from optin.crypto.keys import KeyProvider
from optin.crypto.passwords import hash_password, hash_password_async, verify_password_async
from optin.crypto.tokens import TokenHasher
from optin.db.base import utcnow, uuid7
from optin.db.engine import begin_writing
from optin.db.enums import OperatorRole
from optin.db.models import Operator, OperatorDevice, OperatorSession
from optin.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    OptinError,
    Unauthorized,
    seconds_until,
)
from optin.services.audit import Actor, record
from optin.services.operator_access import network_allowed, open_window_end, validate_rules
from optin.services.operator_devices import DeviceRefused, mark_revoked, registered_device

SESSION_PREFIX: Final = "optin_console"
CSRF_PREFIX: Final = "optin_console_csrf"
MIN_PASSWORD: Final = 12
_USERNAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
REFUSED: Final = "wrong user name, password or code"


class AccountLocked(OptinError):
    code = "account-locked"
    title = "Account locked"
    status = 423


@dataclass(frozen=True)
class NewOperator:
    operator: Operator
    totp_secret: str = field(repr=False)

    @property
    def provisioning_uri(self) -> str:
        return totp.provisioning_uri(self.totp_secret, self.operator.username)


@dataclass(frozen=True)
class ConsoleSignIn:
    operator: Operator
    session: OperatorSession
    cookie: str = field(repr=False)
    csrf: str = field(repr=False)


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user name is unknown, so both cases cost the same time."""
    return hash_password(secrets.token_urlsafe(16))


def _totp_aad(operator_id: UUID) -> bytes:
    return b"optin/operator-totp/v1\x00" + operator_id.bytes


def open_totp_secret(master: KeyProvider, operator: Operator) -> str:
    if operator.totp_secret_ciphertext is None:
        raise Unauthorized(REFUSED)
    return master.unwrap(operator.totp_secret_ciphertext, _totp_aad(operator.id)).decode("ascii")


def rewrap_totp_secret(master: KeyProvider, operator: Operator) -> bytes:
    """The operator's TOTP secret sealed again under the current master key (after rotation)."""
    secret = open_totp_secret(master, operator)
    return master.wrap(secret.encode("ascii"), _totp_aad(operator.id))


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not 3 <= len(name) <= 64 or not set(name) <= _USERNAME_CHARS:
        raise InvalidInput("user names are 3-64 characters: a-z, 0-9, dot, dash, underscore")
    return name


async def create_operator(
    session: AsyncSession,
    master: KeyProvider,
    *,
    username: str,
    password: str,
    role: OperatorRole,
    venue_id: UUID | None,
    networks: Sequence[str],
    hours: Sequence[str],
    actor: Actor,
) -> NewOperator:
    """A new account with a fresh TOTP secret (returned once, to show as a QR/URI); commits."""
    name = normalise_username(username)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"passwords need at least {MIN_PASSWORD} characters")
    if (role == OperatorRole.VENUE_STAFF) != (venue_id is not None):
        raise InvalidInput("venue staff accounts need exactly one venue; other roles none")
    allowed_networks, allowed_hours = validate_rules(networks, hours)
    if await session.scalar(select(Operator.id).where(Operator.username == name)):
        raise Conflict(f"an operator named {name!r} exists already")
    operator_id = uuid7()
    secret = totp.new_secret()
    operator = Operator(
        id=operator_id,
        username=name,
        password_hash=await hash_password_async(password),
        role=role,
        venue_id=venue_id,
        totp_secret_ciphertext=master.wrap(secret.encode("ascii"), _totp_aad(operator_id)),
        allowed_networks=allowed_networks,
        allowed_hours=allowed_hours,
    )
    session.add(operator)
    await session.flush()
    await record(
        session,
        actor,
        "operator.created",
        details={"operator": str(operator_id), "role": str(role), "venue": _str(venue_id)},
    )
    await session.commit()
    return NewOperator(operator, secret)


def _str(value: UUID | None) -> str | None:
    return str(value) if value else None


async def set_access_rules(
    session: AsyncSession,
    operator: Operator,
    networks: Sequence[str],
    hours: Sequence[str],
    actor: Actor,
) -> Operator:
    operator.allowed_networks, operator.allowed_hours = validate_rules(networks, hours)
    await record(
        session,
        actor,
        "operator.access_rules_changed",
        details={
            "operator": str(operator.id),
            "networks": operator.allowed_networks,
            "hours": operator.allowed_hours,
        },
    )
    await session.commit()
    return operator


async def set_disabled(
    session: AsyncSession, operator: Operator, disabled: bool, actor: Actor
) -> Operator:
    now = utcnow()
    operator.disabled_at = now if disabled else None
    if disabled:
        await session.execute(
            update(OperatorSession)
            .where(OperatorSession.operator_id == operator.id, OperatorSession.ended_at.is_(None))
            .values(ended_at=now, end_reason="disabled")
        )
    action = "operator.disabled" if disabled else "operator.enabled"
    await record(session, actor, action, details={"operator": str(operator.id)})
    await session.commit()
    return operator


async def unlock(session: AsyncSession, operator: Operator, actor: Actor) -> Operator:
    operator.locked_until = None
    operator.failed_logins = 0
    await record(session, actor, "operator.unlocked", details={"operator": str(operator.id)})
    await session.commit()
    return operator


async def _refuse(
    session: AsyncSession,
    operator: Operator | None,
    why: str,
    client: str | None,
    error: OptinError,
    **more: str,
) -> OptinError:
    actor = Actor.operator(operator.id) if operator else Actor.system()
    details = {"why": why, "client": client, **more}
    await record(session, actor, "console.sign_in_refused", details=details)
    await session.commit()
    return error


async def _count_failure(
    session: AsyncSession, operator: Operator, settings: ConsoleSettings
) -> None:
    """One more failure; at the limit, lock the account for a while."""
    failures = (
        await session.execute(
            update(Operator)
            .where(Operator.id == operator.id)
            .values(failed_logins=Operator.failed_logins + 1)
            .returning(Operator.failed_logins)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one()
    if failures >= settings.lockout_after:
        await session.execute(
            update(Operator)
            .where(Operator.id == operator.id)
            .values(
                failed_logins=0,
                locked_until=utcnow() + timedelta(minutes=settings.lockout_minutes),
            )
            .execution_options(synchronize_session=False)
        )


async def sign_in(
    session: AsyncSession,
    master: KeyProvider,
    tokens: TokenHasher,
    settings: ConsoleSettings,
    *,
    username: str,
    password: str,
    code: str,
    client: str | None,
    user_agent: str | None = None,
    cookies: Mapping[str, str] | None = None,
) -> ConsoleSignIn:
    """A new session for the operator, or a refusal (audited). ``cookies`` are the browser's:
    its device cookie must be one registered for this operator (when devices are required)."""
    now = utcnow()
    operator = await session.scalar(
        select(Operator).where(Operator.username == username.strip().lower())
    )
    if operator is None:
        await verify_password_async(password, await asyncio.to_thread(_dummy_hash))
        raise await _refuse(session, None, "unknown_user", client, Unauthorized(REFUSED))
    if operator.disabled_at is not None:
        raise await _refuse(session, operator, "disabled", client, Unauthorized(REFUSED))
    if operator.locked_until is not None and operator.locked_until > now:
        zone = ZoneInfo(settings.timezone)
        local = operator.locked_until.astimezone(zone).strftime("%H:%M")
        locked = AccountLocked(
            f"too many failed sign-ins: the account is locked until {local} ({settings.timezone})",
            retry_after=seconds_until(operator.locked_until, now),
        )
        raise await _refuse(session, operator, "locked", client, locked)
    password_ok = await verify_password_async(password, operator.password_hash)
    step = totp.verify(
        open_totp_secret(master, operator), code, time.time(), operator.totp_last_step
    )
    if not password_ok or step is None:
        await _count_failure(session, operator, settings)
        why = "password" if not password_ok else "totp"
        raise await _refuse(session, operator, why, client, Unauthorized(REFUSED))
    if not network_allowed(operator.allowed_networks, client):
        refused = Forbidden("sign-in is not allowed from this network for your account")
        raise await _refuse(session, operator, "network", client, refused)
    window_end = open_window_end(operator.allowed_hours, now, settings.timezone)
    if window_end is None:
        hours = ", ".join(operator.allowed_hours) or "none"
        refused = Forbidden(
            f"sign-in is not allowed at this time for your account "
            f"(allowed hours: {hours}, {settings.timezone})"
        )
        raise await _refuse(session, operator, "hours", client, refused)
    device = await _device(session, tokens, settings, operator, cookies or {}, client)
    operator.failed_logins = 0
    operator.locked_until = None
    operator.totp_last_step = step
    operator.last_sign_in_at = now
    cookie = tokens.issue(SESSION_PREFIX)
    csrf = tokens.issue(CSRF_PREFIX)
    console = OperatorSession(
        id=uuid7(),
        operator_id=operator.id,
        token_digest=cookie.digest,
        csrf_digest=csrf.digest,
        # Signed out automatically at the session limit or when the allowed hours end.
        expires_at=min(now + timedelta(minutes=settings.session_limit_minutes), window_end),
        last_seen_at=now,
        client_address=client,
        user_agent=(user_agent or "")[:200] or None,
        device_id=device.id if device else None,
    )
    session.add(console)
    await record(
        session,
        Actor.operator(operator.id),
        "console.signed_in",
        details={"session": str(console.id), "client": client},
    )
    await session.commit()
    return ConsoleSignIn(operator, console, cookie.plaintext, csrf.plaintext)


async def _device(
    session: AsyncSession,
    tokens: TokenHasher,
    settings: ConsoleSettings,
    operator: Operator,
    cookies: Mapping[str, str],
    client: str | None,
) -> OperatorDevice | None:
    """The registered device signed in from; None when devices are not required and there is
    none. Refuses (audited, saying why) otherwise."""
    try:
        return await registered_device(session, tokens, operator, cookies)
    except DeviceRefused as refusal:
        if not settings.require_registered_devices:
            return None
        refused = Forbidden(
            "sign-in is allowed only from a device registered for your account; "
            "ask an administrator for a device registration link"
        )
        raise await _refuse(
            session, operator, "device", client, refused, device=str(refusal.state)
        ) from None


async def revoke_device(
    session: AsyncSession, device_id: UUID, actor: Actor, *, owner: UUID | None = None
) -> OperatorDevice:
    """Revoke a device (only ``owner``'s, if given) and sign out the sessions opened on it;
    commits."""
    device, open_sessions = await mark_revoked(session, device_id, actor, owner=owner)
    for console in open_sessions:
        await end_session(session, console, "device_revoked", commit=False)
    await session.commit()
    return device


async def end_session(
    session: AsyncSession, console: OperatorSession, reason: str, *, commit: bool = True
) -> None:
    console.ended_at = utcnow()
    console.end_reason = reason
    await record(
        session,
        Actor.operator(console.operator_id),
        "console.signed_out",
        details={"session": str(console.id), "why": reason},
    )
    if commit:
        await session.commit()


async def current_operator(
    session: AsyncSession,
    tokens: TokenHasher,
    settings: ConsoleSettings,
    cookie: str | None,
    client: str | None,
) -> tuple[OperatorSession, Operator]:
    """The live session and its operator; ends the session (and says why) when it may not go
    on. The idle clock restarts."""
    if not cookie:
        raise Unauthorized("please sign in")
    # Reads the session, then writes its idle clock: on SQLite take the write lock first, or a
    # writer committing in between (the mail sender) fails this with "database is locked".
    await begin_writing(session)
    console = await session.scalar(
        select(OperatorSession).where(OperatorSession.token_digest == tokens.digest(cookie))
    )
    if console is None or console.ended_at is not None:
        raise Unauthorized("your session has ended; please sign in again")
    operator = await session.get(Operator, console.operator_id)
    now = utcnow()
    reason = None
    if operator is None or operator.disabled_at is not None:
        reason = "disabled"
    elif console.expires_at <= now:
        reason = "limit"
    elif console.last_seen_at + timedelta(minutes=settings.idle_minutes) <= now:
        reason = "idle"
    elif not network_allowed(operator.allowed_networks, client):
        reason = "network"
    if reason is not None or operator is None:
        await end_session(session, console, reason or "disabled")
        raise Unauthorized(f"you were signed out ({_ENDED[reason or 'disabled']}); sign in again")
    console.last_seen_at = now
    await session.commit()
    return console, operator


_ENDED: Final = {
    "disabled": "account disabled",
    "limit": "session time limit or end of your allowed hours reached",
    "idle": "no activity for a while",
    "network": "request from a network your account may not use",
}


def check_csrf(tokens: TokenHasher, console: OperatorSession, presented: str | None) -> None:
    if not presented or not tokens.verify(presented, console.csrf_digest):
        raise Unauthorized("the page is out of date; reload it and try again")


async def sign_out(session: AsyncSession, console: OperatorSession) -> None:
    await end_session(session, console, "signed_out")


async def count_operators(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Operator)) or 0)
