"""The story ``optin demo`` tells with the project's sample photos, on the real code paths.

Enrol three sample people (template sealed under each person's own key, photo discarded), show
the quality gate refusing a cut-off face, match fresh photos against the enrolled templates (a
stranger matches nobody and is dropped), then erase one person and show their template is now
unreadable ciphertext. Later capabilities (consent, gates, portal) extend this tour.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from optin import faces
from optin.config import FaceSettings
from optin.crypto.subject_keys import SubjectKeys
from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Language
from optin.db.models import FaceTemplate
from optin.errors import FaceQualityRejected, KeyDestroyed
from optin.matching import Gallery
from optin.runtime import Prepared
from optin.services.subjects import create_subject, shred_subject
from optin.services.templates import add_template, load_templates

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "faces"

Echo = Callable[[str], None]


@dataclass(frozen=True)
class SamplePerson:
    name: str
    enrol_photo: str
    probe_photo: str | None


PEOPLE = (
    SamplePerson("Barack Obama", "obama/obama_4.jpg", "obama/obama_small.jpg"),
    SamplePerson(
        "Kit Harington", "kit_harington/kit_harington_1.jpg", "kit_harington/kit_harington_2.jpg"
    ),
    SamplePerson("Rose Leslie", "rose_leslie/rose_leslie_1.jpg", None),
)
STRANGER = "alex_lacamoire/alex_lacamoire_1.png"
CUT_OFF_PHOTO = "edge/obama_partial_face_1.jpg"


def run_tour(prepared: Prepared, echo: Echo) -> None:
    asyncio.run(_tour(prepared, echo))


async def _tour(prepared: Prepared, echo: Echo) -> None:
    settings = prepared.settings
    keys = prepared.keys.subjects
    threshold = settings.faces.match_threshold
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        echo("\n1. Enrolment: one face template per person, sealed under their own data key")
        enrolled: dict[UUID, str] = {}
        async with sessions() as session:
            for person in PEOPLE:
                face = faces.enrollment_template(SAMPLES / person.enrol_photo, settings.faces)
                subject = await create_subject(
                    session,
                    keys,
                    locale=Language.EN,
                    retention_until=utcnow() + timedelta(days=7),
                )
                template = await add_template(session, keys, subject.id, face.embedding)
                enrolled[subject.id] = person.name
                echo(
                    f"   {person.name:<14} subject …{str(subject.id)[-8:]}  template stored as "
                    f"{len(template.ciphertext)} bytes of AES-256-GCM ciphertext; photo discarded"
                )
            await session.commit()

        echo("\n2. The quality gate refuses a face cut off at the image border")
        try:
            faces.enrollment_template(SAMPLES / CUT_OFF_PHOTO, settings.faces)
            echo("   unexpectedly accepted")
        except FaceQualityRejected as rejected:
            echo(f"   {CUT_OFF_PHOTO}: refused ({rejected.reason}): {rejected.detail}")

        echo(f"\n3. Matching new photos against the enrolled templates (threshold {threshold})")
        await _match_probes(sessions, keys, enrolled, settings.faces, echo)

        gone = next(sid for sid, name in enrolled.items() if name == PEOPLE[1].name)
        echo(f"\n4. {enrolled[gone]} deletes their data: the data key is destroyed")
        async with sessions() as session:
            await shred_subject(session, keys, gone)
            await session.commit()
            left = await session.scalar(select(func.count()).select_from(FaceTemplate))
        try:
            keys.get(gone)
            echo("   unexpectedly, the key still exists")
        except KeyDestroyed:
            echo(
                "   any copy of their template, even in a database backup, is now unreadable; "
                f"{left} templates remain for the others"
            )
        del enrolled[gone]
        await _match_probes(sessions, keys, enrolled, settings.faces, echo)
    finally:
        await engine.dispose()


async def _match_probes(
    sessions: async_sessionmaker[AsyncSession],
    keys: SubjectKeys,
    enrolled: dict[UUID, str],
    settings: FaceSettings,
    echo: Echo,
) -> None:
    owners: list[UUID] = []
    vectors = []
    async with sessions() as session:
        for subject_id in enrolled:
            for vector in await load_templates(session, keys, subject_id):
                owners.append(subject_id)
                vectors.append(vector)
    gallery = Gallery(vectors)
    probes = [(p.name, p.probe_photo) for p in PEOPLE if p.probe_photo] + [("a stranger", STRANGER)]
    for who, photo in probes:
        probe = faces.single_face(SAMPLES / photo, settings).embedding
        hit = gallery.nearest(probe)
        if hit is not None and faces.is_match(hit.distance, settings.match_threshold):
            name = enrolled[owners[hit.index]]
            echo(f"   {who:<14} → matched {name} (distance {hit.distance:.2f})")
        else:
            echo(f"   {who:<14} → no match: dropped in memory, nothing recorded")
