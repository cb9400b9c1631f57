"""The story ``optin demo`` tells with the project's sample photos, on the real code paths.

Create two venues and publish the notice in four languages; enrol three sample people through
the enrollment service (explicit consent, template sealed under each person's own key, photo
discarded, signed receipt); show what enrolment refuses (no consent, a cut-off face, a face
already enrolled); match fresh photos against the enrolled templates (a stranger matches nobody
and is dropped); then erase one person and show their template is now unreadable ciphertext.
Later capabilities (gates, portal) extend this tour.
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
from optin.db.enums import Language, Purpose
from optin.db.models import FaceTemplate
from optin.demo_checks import DemoChecks
from optin.errors import KeyDestroyed, OptinError
from optin.mail import mail_sender_from_settings
from optin.matching import Gallery
from optin.runtime import Prepared
from optin.services.enrollment import EnrollmentRequest, enroll
from optin.services.notices import publish_notices
from optin.services.receipts import check_receipt
from optin.services.sign_in import send_sign_in_link
from optin.services.subjects import shred_subject
from optin.services.templates import load_templates
from optin.services.venues import create_venue

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "faces"

Echo = Callable[[str], None]


@dataclass(frozen=True)
class SamplePerson:
    name: str
    slug: str
    enrol_photo: str
    probe_photo: str | None


PEOPLE = (
    SamplePerson("Barack Obama", "obama", "obama/obama_4.jpg", "obama/obama_small.jpg"),
    SamplePerson(
        "Kit Harington",
        "kit",
        "kit_harington/kit_harington_1.jpg",
        "kit_harington/kit_harington_2.jpg",
    ),
    SamplePerson("Rose Leslie", "rose", "rose_leslie/rose_leslie_1.jpg", None),
)
STRANGER = "alex_lacamoire/alex_lacamoire_1.png"
CUT_OFF_PHOTO = "edge/obama_partial_face_1.jpg"


def run_tour(prepared: Prepared, echo: Echo, checks: DemoChecks) -> None:
    asyncio.run(_tour(prepared, echo, checks))


VENUES = (("shirahama-onsen", "Shirahama Onsen Hotel"), ("adventure-park", "Adventure Park"))


async def _tour(prepared: Prepared, echo: Echo, checks: DemoChecks) -> None:
    settings = prepared.settings
    keys = prepared.keys.subjects
    threshold = settings.faces.match_threshold
    engine = create_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        echo("\n1. Two venues, and a privacy notice published in ja, en, zh and ko")
        async with sessions() as session:
            venues = [
                await create_venue(session, prepared.keys.master, slug=slug, name=name)
                for slug, name in VENUES
            ]
            notices = await publish_notices(session, settings, venues)
            await session.commit()
        checks.expect(
            "notice published in ja, en, zh and ko",
            {str(n.language) for n in notices} == {"ja", "en", "zh", "ko"},
        )
        english = next(n for n in notices if n.language == Language.EN)
        for notice in notices:
            echo(
                f"   {notice.language}: version {notice.version}, sha256 {notice.text_sha256[:16]}…"
            )

        echo("\n2. Enrolment with explicit consent: one encrypted template per person")
        enrolled: dict[UUID, str] = {}
        mailer = mail_sender_from_settings(settings)
        for person in PEOPLE:
            request = _request(english.id, person.enrol_photo, f"{person.slug}@example.org")
            async with sessions() as session:
                result = await enroll(session, prepared.keys, settings, request)
            await send_sign_in_link(
                mailer, settings, request.email, request.locale, result.sign_in_token
            )
            enrolled[result.subject_id] = person.name
            receipt = check_receipt(result.receipt, prepared.keys.signer.verifier)
            checks.expect(f"{person.name} enrolled with a genuine receipt", receipt.valid)
            echo(
                f"   {person.name:<14} enrolled for entry at {VENUES[0][1]}; photo discarded; "
                f"signed receipt {receipt.reason}"
            )

        echo("\n3. What enrolment refuses")
        refusals = (
            (
                "no purpose ticked",
                "consent-required",
                _request(english.id, STRANGER, "x@example.org", purposes=()),
            ),
            (
                "a face cut off at the border",
                "face-quality",
                _request(english.id, CUT_OFF_PHOTO, "y@example.org"),
            ),
            (
                "the same face again",
                "already-enrolled",
                _request(english.id, PEOPLE[0].probe_photo or "", "z@example.org"),
            ),
        )
        for what, expected, request in refusals:
            try:
                async with sessions() as session:
                    await enroll(session, prepared.keys, settings, request)
                echo(f"   {what}: unexpectedly accepted")
                checks.expect(f"refused: {what}", False, "accepted")
            except OptinError as refused:
                echo(f"   {what}: refused ({refused.code}): {refused.detail}")
                checks.expect(f"refused: {what}", refused.code == expected, refused.code)

        echo(f"\n4. Matching new photos against the enrolled templates (threshold {threshold})")
        seen = await _match_probes(sessions, keys, enrolled, settings.faces, echo)
        checks.expect(
            "enrolled people match, the stranger does not",
            seen
            == {
                "Barack Obama": "Barack Obama",
                "Kit Harington": "Kit Harington",
                "a stranger": None,
            },
            str(seen),
        )

        gone = next(sid for sid, name in enrolled.items() if name == PEOPLE[1].name)
        echo(f"\n5. {enrolled[gone]} deletes their data: the data key is destroyed")
        async with sessions() as session:
            await shred_subject(session, keys, gone)
            await session.commit()
            left = await session.scalar(select(func.count()).select_from(FaceTemplate))
        try:
            keys.get(gone)
            echo("   unexpectedly, the key still exists")
            checks.expect("deleted person's data key destroyed", False)
        except KeyDestroyed:
            checks.expect("deleted person's data key destroyed", True)
            echo(
                "   any copy of their template, even in a database backup, is now unreadable; "
                f"{left} templates remain for the others"
            )
        del enrolled[gone]
        seen = await _match_probes(sessions, keys, enrolled, settings.faces, echo)
        checks.expect(
            "the deleted person no longer matches; others still do",
            seen["Kit Harington"] is None and seen["Barack Obama"] == "Barack Obama",
            str(seen),
        )
        if not settings.mail.smtp_host:
            echo(f"\n   Sign-in links were mailed to the outbox folder {settings.outbox_dir}/")
    finally:
        await engine.dispose()


def _request(
    notice_id: UUID, photo: str, email: str, purposes: tuple[Purpose, ...] = (Purpose.ENTRY,)
) -> EnrollmentRequest:
    return EnrollmentRequest(
        notice_id=notice_id,
        locale=Language.EN,
        email=email,
        purposes=purposes,
        venue_slugs=[VENUES[0][0]],
        trip_end=utcnow().date() + timedelta(days=3),
        photo=(SAMPLES / photo).read_bytes(),
    )


async def _match_probes(
    sessions: async_sessionmaker[AsyncSession],
    keys: SubjectKeys,
    enrolled: dict[UUID, str],
    settings: FaceSettings,
    echo: Echo,
) -> dict[str, str | None]:
    """Match each probe photo; returns who each probe matched (None: nobody)."""
    seen: dict[str, str | None] = {}
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
            seen[who] = name
            echo(f"   {who:<14} → matched {name} (distance {hit.distance:.2f})")
        else:
            seen[who] = None
            echo(f"   {who:<14} → no match: dropped in memory, nothing recorded")
    return seen
