"""Registered devices: an operator signs in only from a browser registered for them.

An administrator issues a one-time registration code for a named operator (valid for
``REGISTRATION_TTL``); the operator opens the link in the browser they will use, and that browser
receives a long-lived device cookie (256 random bits). Only HMACs of the code and of the cookie
are stored. Revoking a device ends the sessions opened on it. Every step is audited.

The cookie is named per operator (``DEVICE_COOKIE_PREFIX`` + the operator's id), so a browser
shared at a front desk can be registered for several operators without one replacing another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optin.crypto.tokens import TokenHasher
from optin.db.base import utcnow, uuid7
from optin.db.models import Operator, OperatorDevice, OperatorSession
from optin.errors import InvalidInput, NotFound, OptinError
from optin.services.audit import Actor, record

DEVICE_PREFIX: Final = "optin_device"
REGISTRATION_PREFIX: Final = "optin_device_reg"
DEVICE_COOKIE_PREFIX: Final = "optin_console_device_"
REGISTRATION_TTL: Final = timedelta(hours=1)
#: Browsers keep a cookie for at most 400 days; a device unused that long registers again.
DEVICE_COOKIE_MAX_AGE: Final = 400 * 24 * 3600
REGISTRATION_PATH: Final = "/console/device"
_LABEL_MAX: Final = 100


class RegistrationSpent(OptinError):
    code = "device-registration-spent"
    title = "Registration link no longer valid"
    status = 410


class DeviceState(StrEnum):
    """Why a sign-in found no registered device (the audit entry says which)."""

    MISSING = "missing"  # no device cookie for this operator
    UNKNOWN = "unknown"  # a cookie that matches no device
    REVOKED = "revoked"
    OTHER_OPERATOR = "other_operator"  # a device registered for someone else


class DeviceRefused(Exception):
    """No registered device: ``state`` says why."""

    def __init__(self, state: DeviceState) -> None:
        super().__init__(str(state))
        self.state = state


@dataclass(frozen=True)
class Registration:
    """A freshly issued registration code: show ``code`` once (as a link), store only its HMAC."""

    device: OperatorDevice
    code: str = field(repr=False)

    def url(self, base_url: str) -> str:
        # In the fragment: browsers send it to no server, so no log or Referer carries it.
        return f"{base_url}{REGISTRATION_PATH}#{self.code}"


@dataclass(frozen=True)
class RegisteredDevice:
    device: OperatorDevice
    operator: Operator
    cookie: str = field(repr=False)

    @property
    def cookie_name(self) -> str:
        return device_cookie_name(self.operator.id)


def device_cookie_name(operator_id: UUID) -> str:
    return f"{DEVICE_COOKIE_PREFIX}{operator_id.hex}"


def device_cookies(cookies: Mapping[str, str]) -> dict[str, str]:
    """The device cookies among a request's cookies (name -> token)."""
    return {k: v for k, v in cookies.items() if k.startswith(DEVICE_COOKIE_PREFIX)}


def _label(label: str) -> str:
    text = " ".join(label.split())
    if not 1 <= len(text) <= _LABEL_MAX:
        raise InvalidInput(f"name the device in 1-{_LABEL_MAX} characters, e.g. 'front desk PC'")
    return text


async def issue_registration(
    session: AsyncSession, tokens: TokenHasher, operator: Operator, label: str, actor: Actor
) -> Registration:
    """A one-time registration code for ``operator``'s next device; commits."""
    issued = tokens.issue(REGISTRATION_PREFIX)
    device = OperatorDevice(
        id=uuid7(),
        operator_id=operator.id,
        label=_label(label),
        registration_digest=issued.digest,
        registration_expires_at=utcnow() + REGISTRATION_TTL,
    )
    session.add(device)
    await record(
        session,
        actor,
        "operator.device_registration_issued",
        details={"operator": str(operator.id), "device": str(device.id), "label": device.label},
    )
    await session.commit()
    return Registration(device, issued.plaintext)


async def register_device(
    session: AsyncSession,
    tokens: TokenHasher,
    code: str,
    *,
    client: str | None,
    user_agent: str | None,
) -> RegisteredDevice:
    """Spend a registration code: the calling browser becomes the device; commits. A used,
    expired or revoked code is refused, and the attempt audited."""
    device = await session.scalar(
        select(OperatorDevice).where(OperatorDevice.registration_digest == tokens.digest(code))
    )
    now = utcnow()
    state = device_state(device, now) if device else "unknown"
    operator = await session.get(Operator, device.operator_id) if device else None
    issued = tokens.issue(DEVICE_PREFIX)
    if (
        device is not None
        and state == "pending"
        and not await _spend(session, device, issued.digest, now)
    ):
        state = "registered"  # spent by a concurrent request a moment ago
    if state != "pending" or device is None or operator is None:
        why = "used" if state == "registered" else state
        await record(
            session,
            Actor.operator(operator.id) if operator else Actor.system(),
            "operator.device_registration_refused",
            details={"why": why, "device": str(device.id) if device else None, "client": client},
        )
        await session.commit()
        raise RegistrationSpent(
            "this registration link is used, expired or unknown; ask for a new one"
        )
    device.user_agent = (user_agent or "")[:200] or None
    await record(
        session,
        Actor.operator(operator.id),
        "operator.device_registered",
        details={"device": str(device.id), "client": client, "user_agent": device.user_agent},
    )
    await session.commit()
    return RegisteredDevice(device, operator, issued.plaintext)


async def _spend(
    session: AsyncSession, device: OperatorDevice, token_digest: str, now: datetime
) -> bool:
    """Mark the code used, only if it still is unused (one UPDATE, so two browsers racing with
    the same link cannot both get a device)."""
    spent = await session.execute(
        update(OperatorDevice)
        .where(OperatorDevice.id == device.id, OperatorDevice.registered_at.is_(None))
        .values(registered_at=now, token_digest=token_digest)
        .execution_options(synchronize_session=False)
    )
    if getattr(spent, "rowcount", 0) != 1:
        return False
    await session.refresh(device)
    return True


async def registered_device(
    session: AsyncSession, tokens: TokenHasher, operator: Operator, cookies: Mapping[str, str]
) -> OperatorDevice:
    """The live device ``operator`` is signing in from (its last use now), or ``DeviceRefused``
    saying why not."""
    token = cookies.get(device_cookie_name(operator.id))
    if not token:
        # Only other operators' device cookies: say so if one is real (a shared browser).
        token = next(iter(device_cookies(cookies).values()), "")
        if not token:
            raise DeviceRefused(DeviceState.MISSING)
    device = await session.scalar(
        select(OperatorDevice).where(OperatorDevice.token_digest == tokens.digest(token))
    )
    if device is None:
        raise DeviceRefused(DeviceState.UNKNOWN)
    if device.operator_id != operator.id:
        raise DeviceRefused(DeviceState.OTHER_OPERATOR)
    if device.revoked_at is not None:
        raise DeviceRefused(DeviceState.REVOKED)
    device.last_used_at = utcnow()
    return device


async def list_devices(session: AsyncSession, operator_id: UUID | None) -> list[OperatorDevice]:
    """Devices and open registrations, newest first (everyone's when ``operator_id`` is None)."""
    query = select(OperatorDevice).order_by(OperatorDevice.created_at.desc())
    if operator_id is not None:
        query = query.where(OperatorDevice.operator_id == operator_id)
    return list((await session.scalars(query)).all())


async def mark_revoked(
    session: AsyncSession, device_id: UUID, actor: Actor, *, owner: UUID | None = None
) -> tuple[OperatorDevice, list[OperatorSession]]:
    """Revoke a device (only ``owner``'s, if given) and return it with the sessions still open
    on it, for the caller to end (``operators.end_session``). Does not commit."""
    device = await session.get(OperatorDevice, device_id)
    if device is None or (owner is not None and device.operator_id != owner):
        raise NotFound("no such device")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        await record(
            session,
            actor,
            "operator.device_revoked",
            details={"operator": str(device.operator_id), "device": str(device.id)},
        )
    open_sessions = await session.scalars(
        select(OperatorSession).where(
            OperatorSession.device_id == device.id, OperatorSession.ended_at.is_(None)
        )
    )
    return device, list(open_sessions.all())


def device_state(device: OperatorDevice, now: datetime) -> str:
    """revoked, registered, expired (a code never used in time) or pending (a usable code)."""
    if device.revoked_at is not None:
        return "revoked"
    if device.registered_at is not None:
        return "registered"
    return "expired" if device.registration_expires_at <= now else "pending"


def describe_device(device: OperatorDevice, username: str | None = None) -> dict[str, object]:
    described: dict[str, object] = {
        "id": str(device.id),
        "operator_id": str(device.operator_id),
        "label": device.label,
        "state": device_state(device, utcnow()),
        "user_agent": device.user_agent,
        "created_at": device.created_at.isoformat(),
        "registration_expires_at": device.registration_expires_at.isoformat(),
        "registered_at": _iso(device.registered_at),
        "last_used_at": _iso(device.last_used_at),
        "revoked_at": _iso(device.revoked_at),
    }
    if username is not None:
        described["username"] = username
    return described


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
