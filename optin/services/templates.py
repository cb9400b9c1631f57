"""Face templates at rest: serialised, sealed under the subject's data key, bound to their row.

A template is the 128-d face encoding; it is stored only as an envelope in
``face_templates.ciphertext`` and decrypted only in memory, for matching or re-issuing a gallery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final
from uuid import UUID

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.crypto.data_keys import DataKey
from optin.crypto.records import RecordKind, RecordRef, open_record, seal_record
from optin.crypto.subject_keys import SubjectKeys
from optin.db.base import uuid7
from optin.db.enums import SubjectStatus
from optin.db.models import Consent, FaceTemplate, Subject
from optin.errors import InvalidInput, KeyDestroyed
from optin.faces.results import EMBEDDING_SIZE
from optin.matching import Gallery

#: face_recognition's dlib ResNet encoder; stored with each template so a future model can
#: coexist and be re-enrolled deliberately instead of compared across models by accident.
TEMPLATE_MODEL: Final = "dlib_resnet_v1"
# Little-endian float32: 512 bytes, the precision matching uses (see optin.matching).
_WIRE_DTYPE: Final = np.dtype("<f4")

Embedding = npt.NDArray[np.float32]


def template_bytes(embedding: npt.ArrayLike) -> bytes:
    vector = np.asarray(embedding, dtype=np.float64)
    if vector.shape != (EMBEDDING_SIZE,) or not np.all(np.isfinite(vector)):
        raise InvalidInput(f"a face template is {EMBEDDING_SIZE} finite numbers")
    return vector.astype(_WIRE_DTYPE).tobytes()


def template_from_bytes(data: bytes) -> Embedding:
    if len(data) != EMBEDDING_SIZE * _WIRE_DTYPE.itemsize:
        raise InvalidInput("stored template has the wrong size")
    return np.frombuffer(data, dtype=_WIRE_DTYPE).astype(np.float32)


def template_ref(template_id: UUID, subject_id: UUID) -> RecordRef:
    return RecordRef(RecordKind.FACE_TEMPLATE, subject_id, template_id)


async def add_template(
    session: AsyncSession,
    keys: SubjectKeys,
    subject_id: UUID,
    embedding: npt.ArrayLike,
    *,
    model: str = TEMPLATE_MODEL,
) -> FaceTemplate:
    """Seal ``embedding`` under the subject's data key and add the row (caller commits)."""
    plaintext = template_bytes(embedding)
    dek = await asyncio.to_thread(keys.get, subject_id)
    template = FaceTemplate(id=uuid7(), subject_id=subject_id, model=model)
    template.ciphertext = seal_record(dek, template_ref(template.id, subject_id), plaintext)
    session.add(template)
    await session.flush()
    return template


async def load_templates(
    session: AsyncSession, keys: SubjectKeys, subject_id: UUID
) -> list[Embedding]:
    """Decrypt every template of a subject; ``KeyDestroyed`` once they were shredded."""
    rows: Sequence[FaceTemplate] = (
        await session.scalars(
            select(FaceTemplate)
            .where(FaceTemplate.subject_id == subject_id)
            .order_by(FaceTemplate.id)
        )
    ).all()
    if not rows:
        return []
    dek = await asyncio.to_thread(keys.get, subject_id)
    return [
        template_from_bytes(open_record(dek, template_ref(row.id, subject_id), row.ciphertext))
        for row in rows
    ]


async def erase_unused_templates(session: AsyncSession, subject_id: UUID) -> int:
    """Delete the person's templates once no live consent could use them (caller commits).

    Every purpose uses the face, so "live" is any consent not withdrawn; one a change of purpose
    set aside (``renewal_required_at``) still counts, since the person may renew it. Called in
    the transaction that withdraws, so a template never outlives its last consent (APPI: erase
    what no purpose needs). Returns how many rows went.
    """
    live = exists().where(Consent.subject_id == subject_id, Consent.withdrawn_at.is_(None))
    result = await session.execute(
        delete(FaceTemplate)
        .where(FaceTemplate.subject_id == subject_id, ~live)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def active_gallery(session: AsyncSession, keys: SubjectKeys) -> tuple[Gallery, list[UUID]]:
    """Every active subject's templates as one gallery, with the owner of each row.

    Decrypts in memory only; used for the duplicate check at enrollment. It reads every template,
    which is fine for one region's enrolled visitors (thousands); a cached gallery would be the
    next step beyond that.
    """
    rows = (
        await session.execute(
            select(FaceTemplate.id, FaceTemplate.subject_id, FaceTemplate.ciphertext)
            .join(Subject, Subject.id == FaceTemplate.subject_id)
            .where(Subject.status == SubjectStatus.ACTIVE)
            .order_by(FaceTemplate.subject_id)
        )
    ).all()

    def decrypt() -> tuple[list[Embedding], list[UUID]]:
        opened = list(open_live_templates(keys, rows))
        return [vector for _owner, vector in opened], [owner for owner, _vector in opened]

    vectors, owners = await asyncio.to_thread(decrypt)
    return Gallery(np.array(vectors, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)), owners


def open_live_templates(
    keys: SubjectKeys, rows: Iterable[Sequence[Any]]
) -> Iterator[tuple[UUID, Embedding]]:
    """Decrypt ``(template id, subject id, ciphertext)`` rows as ``(subject id, template)``,
    leaving out anyone whose key is gone (blocking: call off the event loop).

    A deletion destroys the person's key before its rows commit, so a read in that moment still
    finds them active with templates: they are being deleted, and failing the whole read with
    ``KeyDestroyed`` (a 410) would punish everyone else in it.
    """
    data_keys: dict[UUID, DataKey | None] = {}
    for template_id, subject_id, ciphertext in rows:
        if subject_id not in data_keys:
            try:
                data_keys[subject_id] = keys.get(subject_id)
            except KeyDestroyed:
                data_keys[subject_id] = None
        dek = data_keys[subject_id]
        if dek is not None:
            plain = open_record(dek, template_ref(template_id, subject_id), ciphertext)
            yield subject_id, template_from_bytes(plain)
