"""The payment PIN: a step-up for amounts above a venue's limit, with a lock-out.

The PIN is stored as argon2id only. Guessing is bounded by an attempt budget that is spent
*before* the hash is checked, in one conditional UPDATE: however many requests arrive at once
(different tills, different idempotency keys), at most ``pin_max_attempts`` guesses are ever
checked before the lock, and the lock lasts ``pin_lock_minutes``. A right PIN resets the count.
Hashing and checking run in a worker thread and outside any transaction, so a slow argon2 never
holds the database's write lock.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from sqlalchemy import and_, case, delete, literal, null, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from optin.config import PaymentSettings
from optin.crypto.passwords import hash_password_async, verify_password_async
from optin.db.base import UTCDateTime, utcnow, uuid7
from optin.db.enums import Purpose, SubjectStatus
from optin.db.models import Consent, PaymentPin, Subject
from optin.errors import Forbidden, InvalidInput, NotFound, OptinError

PIN_SHAPE: Final = re.compile(r"[0-9]{4,6}")
# Guessed first by anyone: a PIN like these protects nothing.
_COMMON: Final = frozenset({"1212", "2580", "0852", "1004", "2000", "6969", "1122", "112233"})


class PinRequired(OptinError):
    """The amount is above the venue's limit: ask the person for their PIN, same key."""

    code = "pin-required"
    title = "PIN required"
    status = 428


class WrongPin(OptinError):
    code = "wrong-pin"
    title = "Wrong PIN"
    status = 422


class PinLocked(OptinError):
    code = "pin-locked"
    title = "PIN locked"
    status = 423


@dataclass(frozen=True)
class PinCheck:
    ok: bool
    attempts_left: int
    locked_until: datetime | None = None


def check_pin_choice(pin: str) -> None:
    """Refuse a PIN that is not 4–6 digits, or one anybody would try first."""
    if not PIN_SHAPE.fullmatch(pin):
        raise InvalidInput("a PIN is 4 to 6 digits", reason="pin-format")
    digits = [int(c) for c in pin]
    steps = {b - a for a, b in itertools.pairwise(digits)}
    # One digit repeated (0000), a run up or down (1234, 9876), or a well-known pattern.
    if len(set(digits)) == 1 or steps in ({1}, {-1}) or pin in _COMMON:
        raise InvalidInput("this PIN is too easy to guess", reason="pin-trivial")
    # Two halves alike (1313, 123123) are as easy.
    half = len(pin) // 2
    if len(pin) % 2 == 0 and pin[:half] == pin[half:]:
        raise InvalidInput("this PIN is too easy to guess", reason="pin-trivial")


async def has_payment_consent(session: AsyncSession, subject_id: UUID) -> bool:
    """A live payment consent at any venue (one waiting for renewal still counts: the person
    can renew it, and withdrawal is what ends payment)."""
    found = await session.scalar(
        select(Consent.id)
        .where(
            Consent.subject_id == subject_id,
            Consent.purpose == Purpose.PAYMENT,
            Consent.withdrawn_at.is_(None),
        )
        .limit(1)
    )
    return found is not None


async def set_pin(session: AsyncSession, subject_id: UUID, pin: str) -> None:
    """Set or replace the person's PIN (commits); only with a payment consent to use it for.
    A new PIN also clears a lock-out: only the person, signed in to the portal, can set one."""
    check_pin_choice(pin)
    # No transaction (and on SQLite no write lock a caller took) stays open while argon2 runs.
    await session.commit()
    pin_hash = await hash_password_async(pin)
    status = await session.scalar(select(Subject.status).where(Subject.id == subject_id))
    if status != SubjectStatus.ACTIVE:
        raise NotFound("no such person")
    if not await has_payment_consent(session, subject_id):
        raise Forbidden("no payment consent to use a PIN for", reason="no-payment-consent")
    # End the reading transaction: on SQLite the upsert must start a writing one.
    await session.commit()
    now = utcnow()
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(PaymentPin).values(
        id=uuid7(),
        subject_id=subject_id,
        pin_hash=pin_hash,
        failed_attempts=0,
        locked_until=None,
        created_at=now,
        updated_at=now,
    )
    statement = statement.on_conflict_do_update(
        index_elements=["subject_id"],
        set_={"pin_hash": pin_hash, "failed_attempts": 0, "locked_until": None, "updated_at": now},
    )
    await session.execute(statement)
    await session.commit()


async def has_pin(session: AsyncSession, subject_id: UUID) -> bool:
    found = await session.scalar(select(PaymentPin.id).where(PaymentPin.subject_id == subject_id))
    return found is not None


async def verify_pin(
    session: AsyncSession, settings: PaymentSettings, subject_id: UUID, pin: str
) -> PinCheck:
    """Spend one attempt, then check ``pin``; commits each step so a crash never gives one back.

    The attempt that spends the budget also sets the lock, in the same statement, so no state
    ever has the budget spent without a lock; a right PIN on that attempt lifts it again.
    ``NotFound`` if the person has no PIN. A locked PIN answers ``ok=False`` with
    ``locked_until`` set, without checking anything.
    """
    await session.commit()  # start the reservation as a writing transaction (SQLite)
    now = utcnow()
    locked = literal(now + timedelta(minutes=settings.pin_lock_minutes), UTCDateTime())
    expired = and_(PaymentPin.locked_until.is_not(None), PaymentPin.locked_until <= now)
    # An expired lock starts a fresh budget: this attempt is its first.
    spent = case((expired, 1), else_=PaymentPin.failed_attempts + 1)
    reserved = await session.execute(
        update(PaymentPin)
        .where(
            PaymentPin.subject_id == subject_id,
            or_(PaymentPin.locked_until.is_(None), expired),
        )
        .values(
            failed_attempts=spent,
            locked_until=case((spent >= settings.pin_max_attempts, locked), else_=null()),
            updated_at=now,
        )
        .returning(PaymentPin.failed_attempts, PaymentPin.locked_until, PaymentPin.pin_hash)
        .execution_options(synchronize_session=False)
    )
    row = reserved.one_or_none()
    await session.commit()
    if row is None:
        locked_until = await session.scalar(
            select(PaymentPin.locked_until).where(PaymentPin.subject_id == subject_id)
        )
        await session.commit()
        if locked_until is None:
            raise NotFound("no PIN set")
        return PinCheck(False, 0, locked_until)
    count, locked_until, pin_hash = int(row[0]), row[1], str(row[2])
    # A malformed PIN is simply wrong: it costs an attempt like any other guess.
    ok = PIN_SHAPE.fullmatch(pin) is not None and await verify_password_async(pin, pin_hash)
    if ok:
        await session.execute(
            update(PaymentPin)
            .where(PaymentPin.subject_id == subject_id)
            .values(failed_attempts=0, locked_until=None, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        return PinCheck(True, settings.pin_max_attempts)
    left = max(settings.pin_max_attempts - count, 0)
    return PinCheck(False, left, locked_until if left == 0 else None)


async def delete_pin(session: AsyncSession, subject_id: UUID) -> None:
    """Drop the PIN (caller commits): deletion, or no payment consent left anywhere."""
    await session.execute(delete(PaymentPin).where(PaymentPin.subject_id == subject_id))
