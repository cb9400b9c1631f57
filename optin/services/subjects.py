"""Subjects: created with their own data key, erased by destroying it (crypto-shredding)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from optin.crypto.records import RecordKind, RecordRef, open_record, seal_record
from optin.crypto.subject_keys import SubjectKeys
from optin.db.base import utcnow, uuid7
from optin.db.enums import Language, SubjectStatus
from optin.db.models import FaceTemplate, Subject
from optin.errors import NotFound


def _contact_ref(subject_id: UUID) -> RecordRef:
    return RecordRef(RecordKind.SUBJECT_CONTACT, subject_id, subject_id)


async def create_subject(
    session: AsyncSession,
    keys: SubjectKeys,
    *,
    locale: Language,
    retention_until: datetime,
    contact: str | None = None,
) -> Subject:
    """Add a subject with a fresh data key (caller commits).

    The key is stored first: if the database write then fails, an orphan key protects nothing
    and harms nobody, whereas the reverse order could leave a subject whose data has no key.
    """
    subject = Subject(
        id=uuid7(),
        locale=locale,
        retention_until=retention_until,
        status=SubjectStatus.ACTIVE,
    )
    dek = await asyncio.to_thread(keys.create, subject.id)
    if contact is not None:
        subject.contact_ciphertext = seal_record(dek, _contact_ref(subject.id), contact.encode())
    session.add(subject)
    await session.flush()
    return subject


async def read_contact(keys: SubjectKeys, subject: Subject) -> str | None:
    if subject.contact_ciphertext is None:
        return None
    dek = await asyncio.to_thread(keys.get, subject.id)
    return open_record(dek, _contact_ref(subject.id), subject.contact_ciphertext).decode()


async def shred_subject(session: AsyncSession, keys: SubjectKeys, subject_id: UUID) -> None:
    """Make everything sealed for this subject unreadable, everywhere, then drop what is left.

    The data key is destroyed first and for good: from that moment every copy of the subject's
    ciphertexts (replicas, dumps, backups of the database) is noise, even if the row updates
    below never commit. Callers commit; the caller of a full deletion also revokes the person
    from every venue's change log (see the deletion service).
    """
    subject = await session.get(Subject, subject_id)
    if subject is None:
        raise NotFound("no such subject")
    await asyncio.to_thread(keys.destroy, subject_id)
    await session.execute(delete(FaceTemplate).where(FaceTemplate.subject_id == subject_id))
    subject.contact_ciphertext = None
    subject.status = SubjectStatus.DELETED
    subject.deleted_at = utcnow()
    await session.flush()
