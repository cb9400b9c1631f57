"""A person's payment method: the provider's token for their card, never the card itself.

The browser sends the card number straight to the provider and gives us only the token it got
back. We ask the provider what the token is (brand, last four digits: the label the person
sees) and seal the token under the person's own data key, bound to its row: deleting the person
destroys that key, so every copy of the token, backups included, becomes noise. One method is
live per person; adding another replaces it. Removing one keeps the row (the person sees when)
but forgets the token.
"""

from __future__ import annotations

import asyncio
import re
from typing import Final
from uuid import UUID

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from optin.crypto.records import RecordRef, open_record, seal_record
from optin.crypto.subject_keys import SubjectKeys
from optin.db.base import utcnow, uuid7
from optin.db.enums import SubjectStatus
from optin.db.models import Charge, PaymentMethod, Subject
from optin.errors import Forbidden, InvalidInput, NotFound
from optin.payments.provider import PaymentProvider
from optin.services.payment_pins import delete_pin, has_payment_consent

#: The record kind the token is sealed as (the AAD names it: a token cannot pass for contact).
PAYMENT_TOKEN: Final = "payment_token"  # noqa: S105 - a record kind, not a secret
#: Something shaped like a card number (12–19 digits, maybe grouped): never accepted as a token.
_CARD_NUMBER: Final = re.compile(r"[0-9][0-9 -]{10,22}[0-9]")
TOKEN_SHAPE: Final = re.compile(r"[A-Za-z0-9_.:-]{8,200}")


def token_ref(method_id: UUID, subject_id: UUID) -> RecordRef:
    return RecordRef(PAYMENT_TOKEN, subject_id, method_id)


async def live_method(session: AsyncSession, subject_id: UUID) -> PaymentMethod | None:
    found: PaymentMethod | None = await session.scalar(
        select(PaymentMethod)
        .where(PaymentMethod.subject_id == subject_id, PaymentMethod.removed_at.is_(None))
        # Fresh from the database, not a copy this session loaded before a removal.
        .execution_options(populate_existing=True)
    )
    return found


async def add_payment_method(
    session: AsyncSession,
    keys: SubjectKeys,
    provider: PaymentProvider,
    subject_id: UUID,
    token: str,
) -> PaymentMethod:
    """Keep the card behind ``token`` as the person's payment method (commits).

    Refused without a live payment consent (nothing to use it for), and for anything that looks
    like a card number: this service never takes card data, even by mistake.
    """
    token = token.strip()
    if _CARD_NUMBER.fullmatch(token):
        raise InvalidInput("send the provider's token, never the card number", reason="card-number")
    if not TOKEN_SHAPE.fullmatch(token):
        raise InvalidInput("this is not a payment token", reason="bad-token")
    status = await session.scalar(select(Subject.status).where(Subject.id == subject_id))
    if status != SubjectStatus.ACTIVE:
        raise NotFound("no such person")
    if not await has_payment_consent(session, subject_id):
        raise Forbidden("no payment consent to use a card for", reason="no-payment-consent")
    # Reads end here; the provider call happens outside any transaction.
    await session.commit()
    card = await provider.describe_token(token)
    dek = await asyncio.to_thread(keys.get, subject_id)
    method = PaymentMethod(
        id=uuid7(), subject_id=subject_id, provider=provider.name, label=card.label[:64]
    )
    method.token_ciphertext = seal_record(dek, token_ref(method.id, subject_id), token.encode())
    # Write first (SQLite), and in one transaction: the old method goes as the new one comes.
    await _forget_live(session, subject_id)
    session.add(method)
    await session.commit()
    return method


async def remove_payment_method(session: AsyncSession, subject_id: UUID) -> PaymentMethod:
    """Stop using the person's card and forget its token (commits)."""
    await session.commit()
    removed = await _forget_live(session, subject_id)
    if removed is None:
        await session.rollback()
        raise NotFound("no payment method to remove")
    await session.commit()
    method = await session.get(PaymentMethod, removed)
    assert method is not None
    return method


async def read_token(keys: SubjectKeys, method: PaymentMethod) -> str:
    dek = await asyncio.to_thread(keys.get, method.subject_id)
    return open_record(
        dek, token_ref(method.id, method.subject_id), method.token_ciphertext
    ).decode()


async def _forget_live(session: AsyncSession, subject_id: UUID) -> UUID | None:
    """Mark the live method removed and drop its sealed token (caller commits)."""
    result = await session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.subject_id == subject_id, PaymentMethod.removed_at.is_(None))
        .values(removed_at=utcnow(), token_ciphertext=b"", updated_at=utcnow())
        .returning(PaymentMethod.id)
        .execution_options(synchronize_session=False)
    )
    removed: UUID | None = result.scalar_one_or_none()
    return removed


async def end_payment_if_no_consent(session: AsyncSession, subject_id: UUID) -> None:
    """After a withdrawal: with no payment consent left anywhere, the card and the PIN have no
    use any more (the register's retention), so they go (caller commits)."""
    if await has_payment_consent(session, subject_id):
        return
    await _forget_live(session, subject_id)
    await delete_pin(session, subject_id)


async def forget_payments(session: AsyncSession, subject_id: UUID) -> None:
    """For a deletion (caller commits): methods and PIN go; charges stay for the books, without
    the person. Their token ciphertexts die with the data key anyway; the rows go too."""
    await session.execute(delete(PaymentMethod).where(PaymentMethod.subject_id == subject_id))
    await delete_pin(session, subject_id)
    await session.execute(
        update(Charge)
        .where(Charge.subject_id == subject_id)
        .values(subject_id=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
