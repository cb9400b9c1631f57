"""Payment by face at a venue's till or gate: one charge per idempotency key, never two.

How a charge request runs (``charge``):

1. The row comes first. ``(venue_id, idempotency_key)`` is unique, so a retried or duplicated
   request finds the row the first one wrote: a finished charge answers the same again (a
   different amount, item or person under the same key is a conflict); one in flight answers
   409 ``charge-in-progress``.
2. Who pays. The gate sends the venue pseudonym it recognised; it resolves only among people
   who consented here. Payment needs a live payment consent at this venue that no change of
   purpose has set aside, and a payment method: otherwise 403, and no row is written about
   someone who did not agree to payment.
3. One request talks to the provider. A conditional UPDATE (pending/awaiting PIN → processing)
   claims the row; whoever loses gets 409 ``charge-in-progress``.
4. PIN step-up above the venue's limit (see optin.services.payment_pins), checked while
   holding the claim, so parallel copies of one request cannot try several PINs.
5. The provider authorises, then captures, each with a key derived from the charge id: if the
   provider does not answer (``ProviderUnavailable``: outcome unknown), the row goes back to
   pending with a failure in the ledger and the till retries the same key; the provider then
   returns its first result instead of charging twice.

Every outcome is appended to the ledger (authorization, capture, decline, failure, refund). The
database transaction is never open while the provider is called.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal
from uuid import UUID

from babel.numbers import UnknownCurrencyError, validate_currency
from sqlalchemy import ColumnElement, and_, case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from optin.config import PaymentSettings
from optin.crypto.venue_keys import VenueKey
from optin.db.base import utcnow, uuid7
from optin.db.enums import ChargeStatus, LedgerKind, Purpose, SubjectStatus
from optin.db.models import Charge, Consent, Gate, LedgerEntry, PaymentMethod, Subject, Venue
from optin.errors import (
    Conflict,
    CryptoError,
    InvalidInput,
    NotFound,
    OptinError,
    seconds_until,
)
from optin.payments.provider import (
    PaymentProvider,
    ProviderRejected,
    ProviderResult,
    ProviderUnavailable,
)
from optin.runtime import Keys
from optin.services.gallery import venue_key
from optin.services.payment_methods import live_method, read_token
from optin.services.payment_pins import PinLocked, PinRequired, WrongPin, has_pin, verify_pin

S = ChargeStatus
FINAL: Final = frozenset({S.CAPTURED, S.DECLINED, S.REFUSED, S.REFUNDED, S.PARTIALLY_REFUNDED})
CLAIMABLE: Final = (S.PENDING, S.AWAITING_PIN)
REFUNDABLE: Final = (S.CAPTURED, S.PARTIALLY_REFUNDED)


class PaymentNotAllowed(OptinError):
    """No payment here for this person: no consent, a consent needing renewal, no method, no
    PIN where one is needed, or nobody known. ``reason`` says which."""

    code = "payment-not-allowed"
    title = "Payment not allowed"
    status = 403


class ChargeInProgress(Conflict):
    code = "charge-in-progress"
    title = "Charge in progress"


class IdempotencyConflict(Conflict):
    code = "idempotency-conflict"
    title = "Idempotency key reused for another charge"


@dataclass(frozen=True)
class ChargeRequest:
    ref: str
    amount_minor: int
    currency: str
    item: str
    idempotency_key: str
    pin: str | None = None


@dataclass(frozen=True)
class ChargeResult:
    charge_id: UUID
    status: Literal["captured", "declined"]
    amount_minor: int
    currency: str
    decline_code: str | None


def stale_after(settings: PaymentSettings) -> timedelta:
    """How long a claim may stand before another request may take the charge over (the holder
    crashed): well beyond an authorisation plus a capture, each bounded by the timeout."""
    return timedelta(seconds=30 + 4 * settings.timeout_seconds)


def _result(row: Charge) -> ChargeResult:
    # A refund later does not change what the till was told: the charge was captured.
    status: Literal["captured", "declined"] = "declined" if row.status == S.DECLINED else "captured"
    return ChargeResult(
        row.id,
        status,
        row.amount_minor,
        row.currency,
        row.failure_code if row.status == S.DECLINED else None,
    )


def _replay(row: Charge) -> ChargeResult:
    """The same answer a finished charge gave the first time."""
    if row.status == S.REFUSED:
        if row.failure_code == "pin-locked":
            raise PinLocked("the PIN is locked after too many wrong attempts")
        raise PaymentNotAllowed("payment is not possible", reason=row.failure_code)
    return _result(row)


async def _find(session: AsyncSession, venue_id: UUID, key: str) -> Charge | None:
    row: Charge | None = await session.scalar(
        select(Charge)
        .where(Charge.venue_id == venue_id, Charge.idempotency_key == key)
        .execution_options(populate_existing=True)
    )
    return row


async def _reload(session: AsyncSession, charge_id: UUID) -> Charge:
    row = await session.get(Charge, charge_id, populate_existing=True)
    assert row is not None
    return row


def _same_request(row: Charge, request: ChargeRequest, vkey: VenueKey) -> None:
    """A key names one purchase: the same amount, item and person, or it is a conflict."""
    same_person = row.subject_id is None or vkey.pseudonym(row.subject_id) == request.ref
    if (
        row.amount_minor != request.amount_minor
        or row.currency != request.currency
        or row.item != request.item
        or not same_person
    ):
        raise IdempotencyConflict("this idempotency key was used for a different charge")


async def _resolve(session: AsyncSession, vkey: VenueKey, venue: Venue, ref: str) -> UUID | None:
    """The person behind a venue pseudonym, among the active people who consented here."""
    subject_ids = (
        await session.scalars(
            select(Consent.subject_id)
            .join(Subject, Subject.id == Consent.subject_id)
            .where(Consent.venue_id == venue.id, Subject.status == SubjectStatus.ACTIVE)
            .distinct()
        )
    ).all()
    for subject_id in subject_ids:
        if vkey.pseudonym(subject_id) == ref:
            return subject_id
    return None


async def _payer(
    session: AsyncSession, venue: Venue, subject_id: UUID | None, needs_pin: bool
) -> PaymentMethod:
    """The person's live method, if they may pay here now; ``PaymentNotAllowed`` otherwise."""
    if subject_id is None:
        raise PaymentNotAllowed("nobody with payment here", reason="unknown-person")
    consents = (
        await session.scalars(
            select(Consent.renewal_required_at).where(
                Consent.subject_id == subject_id,
                Consent.venue_id == venue.id,
                Consent.purpose == Purpose.PAYMENT,
                Consent.withdrawn_at.is_(None),
            )
        )
    ).all()
    if not consents:
        raise PaymentNotAllowed("no payment consent at this venue", reason="no-payment-consent")
    if all(renewal is not None for renewal in consents):
        raise PaymentNotAllowed("the payment consent needs renewal", reason="renewal-required")
    method = await live_method(session, subject_id)
    if method is None:
        raise PaymentNotAllowed("no payment method", reason="no-payment-method")
    if needs_pin and not await has_pin(session, subject_id):
        raise PaymentNotAllowed("a PIN is needed and none is set", reason="no-pin")
    return method


async def _insert(
    session: AsyncSession, gate: Gate, venue: Venue, subject_id: UUID, request: ChargeRequest
) -> UUID | None:
    """Write the row, or nothing when the key is taken (then the caller reads the winner's)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    statement = (
        insert(Charge)
        .values(
            id=uuid7(),
            venue_id=venue.id,
            gate_id=gate.id,
            subject_id=subject_id,
            idempotency_key=request.idempotency_key,
            amount_minor=request.amount_minor,
            currency=request.currency,
            item=request.item,
            status=S.PENDING,
            refunded_minor=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["venue_id", "idempotency_key"])
        .returning(Charge.id)
    )
    created: UUID | None = (await session.execute(statement)).scalar_one_or_none()
    await session.commit()
    return created


async def _move(
    session: AsyncSession,
    charge_id: UUID,
    sources: Iterable[ChargeStatus],
    target: ChargeStatus,
    *,
    stale_before: datetime | None = None,
    **values: object,
) -> bool:
    """Conditional state change (commits): True only if the row was in one of ``sources`` (or
    held by a claim older than ``stale_before``)."""
    allowed: ColumnElement[bool] = Charge.status.in_(list(sources))
    if stale_before is not None:
        allowed = or_(
            allowed, and_(Charge.status == S.PROCESSING, Charge.updated_at < stale_before)
        )
    moved = await session.execute(
        update(Charge)
        .where(Charge.id == charge_id, allowed)
        .values(status=target, updated_at=utcnow(), **values)
        .returning(Charge.id)
        .execution_options(synchronize_session=False)
    )
    won = moved.scalar_one_or_none() is not None
    await session.commit()
    return won


def _ledger(
    charge: Charge,
    kind: LedgerKind,
    amount_minor: int,
    provider_ref: str | None = None,
    detail: str | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        id=uuid7(),
        charge_id=charge.id,
        kind=kind,
        amount_minor=amount_minor,
        currency=charge.currency,
        occurred_at=utcnow(),
        provider_ref=provider_ref,
        detail=detail[:200] if detail else None,
    )


async def _settle(
    session: AsyncSession,
    charge: Charge,
    target: ChargeStatus,
    entries: list[LedgerEntry],
    **values: object,
) -> None:
    """Leave the claim for ``target`` and append the ledger entries, in one transaction."""
    await session.execute(
        update(Charge)
        .where(Charge.id == charge.id, Charge.status == S.PROCESSING)
        .values(status=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    session.add_all(entries)
    await session.commit()


async def _busy_or_replay(session: AsyncSession, charge_id: UUID) -> ChargeResult:
    """Lost the race for the row: answer what the winner has, or that it is still working."""
    row = await _reload(session, charge_id)
    await session.commit()
    if row.status in FINAL:
        return _replay(row)
    raise ChargeInProgress("this charge is being processed; retry with the same key")


async def charge(
    session: AsyncSession,
    keys: Keys,
    provider: PaymentProvider,
    settings: PaymentSettings,
    gate: Gate,
    venue: Venue,
    request: ChargeRequest,
) -> ChargeResult:
    """Charge the person behind ``request.ref`` at ``gate``'s venue; see the module docstring."""
    if request.currency != venue.currency:
        raise InvalidInput(
            f"{venue.slug} takes payment in {venue.currency}", reason="currency-mismatch"
        )
    vkey = venue_key(keys.master, venue)
    needs_pin = request.amount_minor > venue.pin_above_minor
    charge_id: UUID | None = None
    for _attempt in range(2):  # a second pass only after losing the insert race
        existing = await _find(session, venue.id, request.idempotency_key)
        if existing is not None:
            _same_request(existing, request, vkey)
            if existing.status in FINAL:
                await session.commit()
                return _replay(existing)
            if existing.status == S.PROCESSING and existing.updated_at >= (
                utcnow() - stale_after(settings)
            ):
                await session.commit()
                raise ChargeInProgress("this charge is being processed; retry with the same key")
            subject_id = existing.subject_id
        else:
            subject_id = await _resolve(session, vkey, venue, request.ref)
        try:
            method = await _payer(session, venue, subject_id, needs_pin)
        except PaymentNotAllowed as refusal:
            await session.commit()
            if existing is not None:
                # Consent withdrawn (or the person deleted) since the first try: final.
                await _move(
                    session, existing.id, CLAIMABLE, S.REFUSED, failure_code=refusal.extra["reason"]
                )
            raise
        await session.commit()  # reads end here; what follows starts with writes (SQLite)
        assert subject_id is not None
        if existing is not None:
            charge_id = existing.id
            break
        charge_id = await _insert(session, gate, venue, subject_id, request)
        if charge_id is not None:
            break
    if charge_id is None:
        raise ChargeInProgress("this charge is being processed; retry with the same key")

    if needs_pin and request.pin is None:
        if not await _move(session, charge_id, CLAIMABLE, S.AWAITING_PIN):
            return await _busy_or_replay(session, charge_id)
        raise PinRequired(
            "the amount is above the venue's limit: ask for the PIN and retry with the same key"
        )
    stale = utcnow() - stale_after(settings)
    if not await _move(session, charge_id, CLAIMABLE, S.PROCESSING, stale_before=stale):
        return await _busy_or_replay(session, charge_id)

    # The claim is ours: only this request goes on from here. Consent and card are read again:
    # a withdrawal or a removed card that committed before the claim stops this charge too.
    row = await _reload(session, charge_id)
    try:
        method = await _payer(session, venue, row.subject_id, needs_pin)
    except PaymentNotAllowed as refusal:
        await session.commit()
        reason = refusal.extra["reason"]
        await _move(session, row.id, [S.PROCESSING], S.REFUSED, failure_code=reason)
        raise
    await session.commit()
    if needs_pin:
        assert request.pin is not None
        await _check_pin(session, settings, row, request.pin)
    return await _pay(session, keys, provider, row, method)


async def _check_pin(
    session: AsyncSession, settings: PaymentSettings, row: Charge, pin: str
) -> None:
    assert row.subject_id is not None
    try:
        check = await verify_pin(session, settings, row.subject_id, pin)
    except NotFound:  # the PIN went (payment ended) since the eligibility check
        await _move(session, row.id, [S.PROCESSING], S.REFUSED, failure_code="no-pin")
        raise PaymentNotAllowed("a PIN is needed and none is set", reason="no-pin") from None
    if check.ok:
        return
    if check.locked_until is not None:
        await _move(session, row.id, [S.PROCESSING], S.REFUSED, failure_code="pin-locked")
        raise PinLocked(
            "the PIN is locked after too many wrong attempts",
            locked_until=check.locked_until.isoformat(),
            retry_after=seconds_until(check.locked_until, utcnow()),
        )
    await _move(session, row.id, [S.PROCESSING], S.AWAITING_PIN)
    raise WrongPin("wrong PIN", attempts_left=check.attempts_left)


async def _pay(
    session: AsyncSession,
    keys: Keys,
    provider: PaymentProvider,
    row: Charge,
    method: PaymentMethod,
) -> ChargeResult:
    try:
        token = await read_token(keys.subjects, method)
    except CryptoError:  # the person was deleted meanwhile: their key, and the token, are gone
        await _move(session, row.id, [S.PROCESSING], S.REFUSED, failure_code="unknown-person")
        raise PaymentNotAllowed("nobody with payment here", reason="unknown-person") from None
    payment_id = row.provider_payment_id  # set: authorised on an earlier try, capture left
    try:
        if payment_id is None:
            authorized = await provider.authorize(
                token=token,
                amount_minor=row.amount_minor,
                currency=row.currency,
                description=row.item,
                idempotency_key=str(row.id),
            )
            if authorized.status == "declined":
                return await _declined(session, row, provider, authorized.decline_code, authorized)
            payment_id = authorized.payment_id
            await session.execute(
                update(Charge)
                .where(Charge.id == row.id)
                .values(provider=provider.name, provider_payment_id=payment_id, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            session.add(_ledger(row, LedgerKind.AUTHORIZATION, authorized.amount_minor, payment_id))
            await session.commit()
            if authorized.status == "captured":  # a provider that captures at once
                return await _captured(session, row, provider, authorized)
        captured = await provider.capture(payment_id, idempotency_key=f"{row.id}:capture")
    except ProviderUnavailable:
        # Unknown outcome: back to pending so the till's retry (same key) picks it up again.
        await session.rollback()
        await _settle(
            session,
            row,
            S.PENDING,
            [
                _ledger(
                    row, LedgerKind.FAILURE, row.amount_minor, payment_id, "provider-unavailable"
                )
            ],
        )
        raise
    except ProviderRejected:
        await session.rollback()
        return await _declined(session, row, provider, "provider-rejected", None)
    if captured.status != "captured":
        code = captured.decline_code or "not-captured"
        return await _declined(session, row, provider, code, captured)
    return await _captured(session, row, provider, captured)


async def _captured(
    session: AsyncSession, row: Charge, provider: PaymentProvider, result: ProviderResult
) -> ChargeResult:
    await _settle(
        session,
        row,
        S.CAPTURED,
        [_ledger(row, LedgerKind.CAPTURE, result.amount_minor, result.payment_id)],
        provider=provider.name,
        provider_payment_id=result.payment_id,
        failure_code=None,
    )
    return ChargeResult(row.id, "captured", row.amount_minor, row.currency, None)


async def _declined(
    session: AsyncSession,
    row: Charge,
    provider: PaymentProvider,
    code: str | None,
    result: ProviderResult | None,
) -> ChargeResult:
    code = (code or "declined")[:64]
    reference = result.payment_id if result is not None else row.provider_payment_id
    await _settle(
        session,
        row,
        S.DECLINED,
        [_ledger(row, LedgerKind.DECLINE, row.amount_minor, reference, code)],
        provider=provider.name,
        failure_code=code,
    )
    return ChargeResult(row.id, "declined", row.amount_minor, row.currency, code)


# --- refunds ------------------------------------------------------------------------------------


def _refund_status(refunded: ColumnElement[int] | InstrumentedAttribute[int]) -> ColumnElement[str]:
    """The status that goes with an amount refunded (in-flight reservations included)."""
    return case(
        (refunded >= Charge.amount_minor, str(S.REFUNDED)),
        (refunded > 0, str(S.PARTIALLY_REFUNDED)),
        else_=str(S.CAPTURED),
    )


async def refund(
    session: AsyncSession,
    provider: PaymentProvider,
    charge_id: UUID,
    amount_minor: int | None = None,
    *,
    venue_id: UUID | None = None,
) -> tuple[Charge, int]:
    """Give back ``amount_minor`` (None: all that is left) of a captured charge (commits);
    returns the charge as it now stands and the amount refunded.

    The amount is reserved first with a conditional UPDATE on ``refunded_minor``, so two
    operators refunding at once can never give back more than was paid. The provider's key is
    derived from the charge and what was refunded before: a retry of a refund whose outcome was
    unknown reuses it, and the provider returns its first answer.
    """
    row = await session.get(Charge, charge_id, populate_existing=True)
    if row is None or (venue_id is not None and row.venue_id != venue_id):
        raise NotFound("no such charge")
    await session.commit()
    if row.status not in REFUNDABLE or row.provider_payment_id is None:
        raise Conflict("only a captured charge can be refunded", reason="not-refundable")
    payment_id = row.provider_payment_id
    before = row.refunded_minor
    left = row.amount_minor - before
    amount = left if amount_minor is None else amount_minor
    if amount <= 0 or amount > left:
        raise InvalidInput(f"a refund is 1 to {left} {row.currency}", reason="refund-amount")
    reserved = await session.execute(
        update(Charge)
        .where(
            Charge.id == row.id,
            Charge.status.in_(list(REFUNDABLE)),
            Charge.refunded_minor == before,
        )
        .values(refunded_minor=Charge.refunded_minor + amount, updated_at=utcnow())
        .returning(Charge.id)
        .execution_options(synchronize_session=False)
    )
    if reserved.scalar_one_or_none() is None:
        await session.rollback()
        raise Conflict("the charge changed meanwhile; reload it and try again")
    await session.commit()
    key = f"{row.id}:refund:{before}:{amount}"
    try:
        result = await provider.refund(payment_id, amount, idempotency_key=key)
    except (ProviderUnavailable, ProviderRejected) as failure:
        # Give the reservation back; a retry of the same refund reuses the same key.
        await session.rollback()
        await session.execute(
            update(Charge)
            .where(Charge.id == row.id)
            .values(
                refunded_minor=Charge.refunded_minor - amount,
                status=_refund_status(Charge.refunded_minor - amount),
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        session.add(_ledger(row, LedgerKind.FAILURE, amount, payment_id, failure.code))
        await session.commit()
        raise
    await session.execute(
        update(Charge)
        .where(Charge.id == row.id)
        .values(status=_refund_status(Charge.refunded_minor), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.add(_ledger(row, LedgerKind.REFUND, amount, result.refund_id or result.payment_id))
    await session.commit()
    return await _reload(session, row.id), amount


# --- venue settings and the venue's view ------------------------------------------------------


async def set_venue_payments(
    session: AsyncSession,
    venue: Venue,
    *,
    currency: str | None = None,
    pin_above_minor: int | None = None,
) -> Venue:
    """Change a venue's currency and PIN limit (caller commits). Charges keep their own."""
    if currency is not None:
        try:
            validate_currency(currency)
        except UnknownCurrencyError:
            raise InvalidInput(f"{currency!r} is not an ISO 4217 currency") from None
        venue.currency = currency
    if pin_above_minor is not None:
        if pin_above_minor < 0:
            raise InvalidInput("the PIN limit is 0 (a PIN for every payment) or more")
        venue.pin_above_minor = pin_above_minor
    await session.flush()
    return venue


async def venue_charges(
    session: AsyncSession, venue_id: UUID, limit: int = 200
) -> list[tuple[Charge, str]]:
    """A venue's newest charges with the name of the till that asked (never who paid)."""
    rows = await session.execute(
        select(Charge, Gate.name)
        .join(Gate, Gate.id == Charge.gate_id)
        .where(Charge.venue_id == venue_id)
        .order_by(Charge.created_at.desc())
        .limit(max(1, min(limit, 1000)))
    )
    return [(charge, str(name)) for charge, name in rows.all()]
