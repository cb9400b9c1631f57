"""Change of purpose: a notice version that changes what a purpose means sets aside, once in
effect, every live consent for that purpose given on an earlier version; gates stop using it
until the person consents again on the new text. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from optin.config import Settings
from optin.crypto.gate_wire import gate_key
from optin.db.base import utcnow
from optin.db.enums import ChangeAction, Language, Purpose
from optin.db.models import Consent, Notice, Venue, VenueChange
from optin.errors import ConsentRequired, InvalidInput, NotFound, NoticeOutdated
from optin.runtime import Keys, open_keys
from optin.services.consents import withdraw
from optin.services.gallery import current_sequence, gallery_page, record_change, venue_key
from optin.services.notices import publish_notices
from optin.services.renewal import apply_purpose_changes, renew_consent
from optin.services.subjects import create_subject
from optin.services.templates import add_template
from optin.services.venues import create_venue

from support import db_factories as factories

GATE_KEY = gate_key("optin_gate_test-token")


@dataclasses.dataclass
class World:
    keys: Keys
    settings: Settings
    hotel: Venue
    park: Venue
    v1: dict[Language, Notice]


@pytest.fixture
def keys_and_settings(tmp_path: Path) -> tuple[Keys, Settings]:
    settings = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")})
    settings.ensure_data_dir()
    return open_keys(settings), settings


@pytest.fixture
async def world(db_session: AsyncSession, keys_and_settings: tuple[Keys, Settings]) -> World:
    keys, settings = keys_and_settings
    hotel = await create_venue(db_session, keys.master, slug="onsen-hotel", name="Onsen Hotel")
    park = await create_venue(db_session, keys.master, slug="adventure-park", name="Park")
    v1 = await publish_notices(db_session, settings, [hotel, park])
    await db_session.commit()
    return World(keys, settings, hotel, park, {n.language: n for n in v1})


async def _person(
    session: AsyncSession,
    world: World,
    consents: list[tuple[Venue, Purpose]],
    notice: Notice | None = None,
) -> UUID:
    """A person with a template and consents on ``notice`` (version 1 in English by default)."""
    notice = notice or world.v1[Language.EN]
    subject = await create_subject(
        session,
        world.keys.subjects,
        locale=Language.EN,
        retention_until=utcnow() + timedelta(days=10),
    )
    await add_template(
        session, world.keys.subjects, subject.id, np.random.default_rng().random(128)
    )
    session.add_all(
        factories.consent(subject.id, venue.id, notice, purpose, granted_at=utcnow())
        for venue, purpose in consents
    )
    # As enrollment does: the venues' gates are told about the person.
    venues = list({venue.id: venue for venue, _purpose in consents}.values())
    await record_change(session, world.keys.master, venues, subject.id, ChangeAction.ADD)
    await session.commit()
    return subject.id


async def _publish(
    session: AsyncSession, world: World, changed: list[Purpose], **kwargs: object
) -> dict[Language, Notice]:
    notices = await publish_notices(
        session,
        world.settings,
        [world.hotel, world.park],
        changed_purposes=changed,
        **kwargs,  # type: ignore[arg-type]
    )
    await session.commit()
    return {n.language: n for n in notices}


async def _gallery(session: AsyncSession, world: World, venue: Venue) -> dict[str, list[str]]:
    """What a gate of ``venue`` downloads now: ref -> purposes."""
    page = await gallery_page(session, world.keys.master, world.keys.subjects, venue, GATE_KEY, 0)
    return {entry.ref: entry.purposes for entry in page.entries}


async def _delta(
    session: AsyncSession, world: World, venue: Venue, since: int
) -> dict[str, tuple[str, list[str]]]:
    """What a gate of ``venue`` synced at ``since`` receives next: ref -> (action, purposes)."""
    page = await gallery_page(
        session, world.keys.master, world.keys.subjects, venue, GATE_KEY, since
    )
    assert page.kind == "delta"
    return {entry.ref: (entry.action, entry.purposes) for entry in page.entries}


def _ref(world: World, venue: Venue, subject_id: UUID) -> str:
    return venue_key(world.keys.master, venue).pseudonym(subject_id)


async def _consents(session: AsyncSession, subject_id: UUID) -> list[Consent]:
    return list(
        (
            await session.scalars(
                select(Consent)
                .where(Consent.subject_id == subject_id)
                .order_by(Consent.granted_at, Consent.purpose, Consent.venue_id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )


async def test_changed_purpose_must_be_covered_and_is_said_in_the_text(
    db_session: AsyncSession, world: World
) -> None:
    with pytest.raises(InvalidInput, match="not covered: payment"):
        await publish_notices(
            db_session,
            world.settings,
            [world.hotel],
            [Purpose.ENTRY],
            changed_purposes=[Purpose.PAYMENT],
        )
    await db_session.commit()  # a refusal wrote nothing; a rollback would expire the venues
    v2 = await _publish(db_session, world, [Purpose.ENTRY])
    assert all(n.changed_purposes == ["entry"] for n in v2.values())
    assert v2[Language.EN].body.startswith("What changes in this version\n")
    assert "entry without a ticket" in v2[Language.EN].body.split("\n\n")[0]
    assert "チケット不要の入場" in v2[Language.JA].body.split("\n\n")[0]
    # Existing callers: no change declared, no change section.
    assert world.v1[Language.EN].changed_purposes == []
    assert not world.v1[Language.EN].body.startswith("What changes")


async def test_marks_outdated_consents_and_gates_stop_using_them(
    db_session: AsyncSession, world: World
) -> None:
    hotel, park = world.hotel, world.park
    both = await _person(db_session, world, [(hotel, Purpose.ENTRY), (hotel, Purpose.PAYMENT)])
    entry_only = await _person(db_session, world, [(hotel, Purpose.ENTRY), (park, Purpose.ENTRY)])
    withdrawn = await _person(db_session, world, [(hotel, Purpose.ENTRY)])
    await withdraw(db_session, world.keys, withdrawn, purpose=Purpose.ENTRY)
    payer = await _person(db_session, world, [(park, Purpose.PAYMENT)])
    assert await _gallery(db_session, world, hotel) == {
        _ref(world, hotel, both): ["entry", "payment"],
        _ref(world, hotel, entry_only): ["entry"],
    }
    before = {venue.id: await current_sequence(db_session, venue.id) for venue in (hotel, park)}

    await _publish(db_session, world, [Purpose.ENTRY])
    assert await apply_purpose_changes(db_session, world.keys) == 3

    # Entry consents on version 1 wait for renewal; payment is untouched; a withdrawn consent
    # stays withdrawn and is not marked.
    marked = {
        (c.subject_id, c.venue_id, c.purpose): c.renewal_required_at
        for person in (both, entry_only, withdrawn, payer)
        for c in await _consents(db_session, person)
    }
    assert marked[(both, hotel.id, Purpose.ENTRY)] is not None
    assert marked[(both, hotel.id, Purpose.PAYMENT)] is None
    assert marked[(entry_only, hotel.id, Purpose.ENTRY)] is not None
    assert marked[(entry_only, park.id, Purpose.ENTRY)] is not None
    assert marked[(withdrawn, hotel.id, Purpose.ENTRY)] is None
    assert marked[(payer, park.id, Purpose.PAYMENT)] is None
    live = await _consents(db_session, both)
    assert all(c.withdrawn_at is None for c in live), "marking is not withdrawing"

    # What the gates download: payment still works, entry is gone.
    assert await _gallery(db_session, world, hotel) == {_ref(world, hotel, both): ["payment"]}
    assert await _gallery(db_session, world, park) == {_ref(world, park, payer): ["payment"]}
    # And what gates already synced receive as a change.
    assert await _delta(db_session, world, hotel, before[hotel.id]) == {
        _ref(world, hotel, both): ("add", ["payment"]),
        _ref(world, hotel, entry_only): ("revoke", []),
    }
    assert await _delta(db_session, world, park, before[park.id]) == {
        _ref(world, park, entry_only): ("revoke", []),
    }

    # Idempotent: nothing more to mark, nothing more told to the gates.
    logged = await db_session.scalar(select(func.count()).select_from(VenueChange))
    assert await apply_purpose_changes(db_session, world.keys) == 0
    assert await db_session.scalar(select(func.count()).select_from(VenueChange)) == logged


async def test_a_future_effective_date_is_not_applied_early(
    db_session: AsyncSession, world: World
) -> None:
    person = await _person(db_session, world, [(world.hotel, Purpose.ENTRY)])
    effective = utcnow() + timedelta(days=1)
    v2 = await _publish(db_session, world, [Purpose.ENTRY], effective_at=effective)

    assert await apply_purpose_changes(db_session, world.keys) == 0
    assert await _gallery(db_session, world, world.hotel) == {
        _ref(world, world.hotel, person): ["entry"]
    }
    # The announced text cannot be agreed to before it applies.
    with pytest.raises(NoticeOutdated):
        await renew_consent(db_session, world.keys, person, Purpose.ENTRY, None, v2[Language.EN].id)
    await db_session.commit()

    assert (
        await apply_purpose_changes(db_session, world.keys, at=effective - timedelta(seconds=1))
        == 0
    )
    assert await apply_purpose_changes(db_session, world.keys, at=effective) == 1
    assert await _gallery(db_session, world, world.hotel) == {}


async def test_renewal_restores_the_purpose_and_keeps_the_history(
    db_session: AsyncSession, world: World
) -> None:
    hotel, park = world.hotel, world.park
    person = await _person(
        db_session,
        world,
        [(hotel, Purpose.ENTRY), (hotel, Purpose.PAYMENT), (park, Purpose.ENTRY)],
    )
    quitter = await _person(db_session, world, [(hotel, Purpose.ENTRY)])
    v2 = await _publish(db_session, world, [Purpose.ENTRY])
    assert await apply_purpose_changes(db_session, world.keys) == 3
    v2_ja = v2[Language.JA]

    # Only on the current text: the one the person agreed to before is refused.
    with pytest.raises(NoticeOutdated):
        await renew_consent(
            db_session, world.keys, person, Purpose.ENTRY, hotel.id, world.v1[Language.EN].id
        )
    await db_session.commit()
    # Nothing to renew for a purpose that did not change.
    with pytest.raises(NotFound):
        await renew_consent(db_session, world.keys, person, Purpose.PAYMENT, hotel.id, v2_ja.id)
    await db_session.commit()

    seq = await current_sequence(db_session, hotel.id)
    renewed = await renew_consent(db_session, world.keys, person, Purpose.ENTRY, hotel.id, v2_ja.id)
    assert [(c.venue_id, c.notice_id, c.notice_version) for c in renewed] == [
        (hotel.id, v2_ja.id, 2)
    ]
    assert renewed[0].method == "portal-renewal"
    assert await _gallery(db_session, world, hotel) == {
        _ref(world, hotel, person): ["entry", "payment"]
    }
    assert await _delta(db_session, world, hotel, seq) == {
        _ref(world, hotel, person): ("add", ["entry", "payment"])
    }
    # Still set aside at the park until renewed there too.
    assert await _gallery(db_session, world, park) == {}

    history = [
        (c.venue_id, c.purpose, c.notice_version, c.withdrawn_at is None, c.renewal_required_at)
        for c in await _consents(db_session, person)
        if c.venue_id == hotel.id and c.purpose == Purpose.ENTRY
    ]
    (old, new) = history
    # The old consent is closed, kept, and shows why; the new one cites version 2.
    assert old[2:] == (1, False, old[4])
    assert old[4] is not None
    assert new[2:] == (2, True, None)

    # Renewing what is renewed already, or twice, finds nothing.
    with pytest.raises(NotFound):
        await renew_consent(db_session, world.keys, person, Purpose.ENTRY, hotel.id, v2_ja.id)
    await db_session.commit()
    # Without a venue: every venue where it waits (here the park).
    at_park = await renew_consent(db_session, world.keys, person, Purpose.ENTRY, None, v2_ja.id)
    assert [c.venue_id for c in at_park] == [park.id]
    assert await _gallery(db_session, world, park) == {_ref(world, park, person): ["entry"]}
    # A renewed consent cites the new version: the change does not apply to it again.
    assert await apply_purpose_changes(db_session, world.keys) == 0

    # Withdrawn instead of renewed: not resurrected by a renewal or another check.
    await withdraw(db_session, world.keys, quitter, purpose=Purpose.ENTRY)
    with pytest.raises(NotFound):
        await renew_consent(db_session, world.keys, quitter, Purpose.ENTRY, None, v2_ja.id)
    await db_session.commit()
    assert await apply_purpose_changes(db_session, world.keys) == 0
    assert _ref(world, hotel, quitter) not in await _gallery(db_session, world, hotel)
    assert all(c.withdrawn_at is not None for c in await _consents(db_session, quitter))


async def test_consent_on_the_new_text_is_not_marked_but_a_later_change_applies(
    db_session: AsyncSession, world: World
) -> None:
    v2 = await _publish(db_session, world, [Purpose.ENTRY])
    newcomer = await _person(db_session, world, [(world.hotel, Purpose.ENTRY)], v2[Language.EN])
    assert await apply_purpose_changes(db_session, world.keys) == 0
    # A version that changes nothing leaves it alone; one that changes entry again does not.
    await _publish(db_session, world, [])
    assert await apply_purpose_changes(db_session, world.keys) == 0
    await _publish(db_session, world, [Purpose.ENTRY])
    assert await apply_purpose_changes(db_session, world.keys) == 1
    (consent,) = await _consents(db_session, newcomer)
    assert consent.renewal_required_at is not None


async def test_a_venue_the_current_notice_no_longer_names_cannot_be_renewed(
    db_session: AsyncSession, world: World
) -> None:
    person = await _person(
        db_session, world, [(world.hotel, Purpose.ENTRY), (world.park, Purpose.ENTRY)]
    )
    v2 = await publish_notices(
        db_session, world.settings, [world.hotel], changed_purposes=[Purpose.ENTRY]
    )
    await db_session.commit()
    v2_en = next(n for n in v2 if n.language == Language.EN)
    # The meaning of entry changed for everyone who agreed to it, wherever.
    assert await apply_purpose_changes(db_session, world.keys) == 2
    with pytest.raises(ConsentRequired) as refused:
        await renew_consent(db_session, world.keys, person, Purpose.ENTRY, world.park.id, v2_en.id)
    assert refused.value.extra["reason"] == "venue-not-in-notice"
    await db_session.commit()
    # Without a venue: renewed where the new text applies, left aside (withdrawable) elsewhere.
    renewed = await renew_consent(db_session, world.keys, person, Purpose.ENTRY, None, v2_en.id)
    assert [c.venue_id for c in renewed] == [world.hotel.id]
    assert await _gallery(db_session, world, world.park) == {}
