"""Notices (four languages, fingerprinted, versioned) and signed consent receipts."""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from optin.config import OperatorSettings, Settings
from optin.crypto.keys import LocalKeyFileProvider
from optin.crypto.signing import Signer
from optin.db.base import utcnow, uuid7
from optin.db.enums import Language, Purpose
from optin.errors import Conflict, InvalidInput, NoticeOutdated, UnknownVenue
from optin.notices import notice_sha256
from optin.services.notices import current_notices, publish_notices, require_current
from optin.services.receipts import build_consent_receipt, check_receipt
from optin.services.venues import create_venue, venues_by_slug


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path), "OPTIN_RETENTION_GRACE_DAYS": "5"})


async def _venues(session: AsyncSession, master: LocalKeyFileProvider) -> list[Any]:
    hotel = await create_venue(session, master, slug="onsen-hotel", name="Shirahama Onsen Hotel")
    park = await create_venue(session, master, slug="adventure-park", name="Adventure Park")
    return [hotel, park]


async def test_publish_all_languages_with_every_required_item(
    db_session: AsyncSession, master_keys: LocalKeyFileProvider, settings: Settings
) -> None:
    venues = await _venues(db_session, master_keys)
    notices = await publish_notices(db_session, settings, venues)
    await db_session.commit()
    assert {n.language for n in notices} == set(Language)
    assert {n.version for n in notices} == {1}
    for notice in notices:
        assert notice.text_sha256 == notice_sha256(notice.title, notice.body)
        for must in (
            settings.operator.legal_name,
            settings.operator.contact_email,
            settings.operator.contact_phone,
            f"{settings.base_url}/portal",
            "Shirahama Onsen Hotel",
            "Adventure Park",
            "5",
        ):
            assert must in notice.body, (notice.language, must)
        assert notice.venue_ids == [str(v.id) for v in venues]
    assert len({n.text_sha256 for n in notices}) == 4


async def test_empty_contact_point_blocks_publication(
    db_session: AsyncSession, master_keys: LocalKeyFileProvider, settings: Settings
) -> None:
    venues = await _venues(db_session, master_keys)
    no_contact = dataclasses.replace(
        settings, operator=OperatorSettings(contact_email=" ", contact_phone="")
    )
    with pytest.raises(InvalidInput, match="contact_email, contact_phone"):
        await publish_notices(db_session, no_contact, venues)
    with pytest.raises(InvalidInput, match="venue"):
        await publish_notices(db_session, settings, [])
    assert await current_notices(db_session) == []


async def test_a_new_version_makes_the_old_one_outdated(
    db_session: AsyncSession, master_keys: LocalKeyFileProvider, settings: Settings
) -> None:
    venues = await _venues(db_session, master_keys)
    first = await publish_notices(db_session, settings, venues)
    await db_session.commit()
    ja_v1 = next(n for n in first if n.language == Language.JA)
    assert (await require_current(db_session, ja_v1.id)).id == ja_v1.id

    # A version announced for next week does not replace the current one yet.
    await publish_notices(
        db_session, settings, venues[:1], [Purpose.ENTRY], effective_at=utcnow() + timedelta(days=7)
    )
    await db_session.commit()
    assert (await require_current(db_session, ja_v1.id)).version == 1

    await publish_notices(db_session, settings, venues[:1], [Purpose.ENTRY])
    await db_session.commit()
    with pytest.raises(NoticeOutdated):
        await require_current(db_session, ja_v1.id)
    (current_ja,) = await current_notices(db_session, Language.JA)
    assert current_ja.version == 3
    assert current_ja.purposes == ["entry"]


async def test_venue_rules(db_session: AsyncSession, master_keys: LocalKeyFileProvider) -> None:
    await _venues(db_session, master_keys)
    with pytest.raises(Conflict):
        await create_venue(db_session, master_keys, slug="onsen-hotel", name="Another")
    with pytest.raises(InvalidInput):
        await create_venue(db_session, master_keys, slug="Bad Slug!", name="x")
    with pytest.raises(InvalidInput):
        await create_venue(db_session, master_keys, slug="ok", name="x", timezone="Mars/Base")
    with pytest.raises(UnknownVenue, match="nowhere"):
        await venues_by_slug(db_session, ["onsen-hotel", "nowhere"])


def _leaves(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(document, dict):
        return [p for k, v in document.items() for p in _leaves(v, (*path, k))]
    if isinstance(document, list):
        return [p for i, v in enumerate(document) for p in _leaves(v, (*path, i))]
    return [path]


async def test_receipt_is_genuine_and_any_change_breaks_it(
    db_session: AsyncSession,
    master_keys: LocalKeyFileProvider,
    settings: Settings,
    tmp_path: Path,
) -> None:
    venues = await _venues(db_session, master_keys)
    notices = await publish_notices(db_session, settings, venues)
    signer = Signer.load_or_create(tmp_path / "signing.key")
    subject_id = uuid7()
    receipt = build_consent_receipt(
        settings=settings,
        master_keys=master_keys,
        signer=signer,
        subject_id=subject_id,
        notice=notices[0],
        purposes=["entry"],
        venues=venues,
        granted_at=utcnow(),
        retention_until=utcnow() + timedelta(days=10),
    )
    assert check_receipt(receipt, signer.verifier).valid
    assert str(subject_id) not in str(receipt)  # only the receipt pseudonym
    assert receipt["notice"]["sha256"] == notices[0].text_sha256

    signed_fields = [p for p in _leaves(receipt) if p[0] != "signature"]
    assert len(signed_fields) > 15
    for path in signed_fields:
        forged = copy.deepcopy(receipt)
        target = forged
        for key in path[:-1]:
            target = target[key]
        value = target[path[-1]]
        target[path[-1]] = value + 1 if isinstance(value, int) else f"{value}x"
        assert not check_receipt(forged, signer.verifier).valid, path

    other = Signer.generate()
    assert check_receipt(receipt, other.verifier).reason == "unknown-signing-key"
    assert (
        check_receipt({**receipt, "type": "x"}, signer.verifier).reason == "not-a-consent-receipt"
    )
