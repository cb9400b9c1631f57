"""Gate notice and signage (BRIEF checks 14, 17, 34): each language names the operator, the
purposes here, the contact point and carries a QR code of the notice page; nothing renders
without a published notice naming the venue."""

from __future__ import annotations

import dataclasses
import html
import io
import re
from pathlib import Path

import pytest
import segno
from litestar.testing import AsyncTestClient

from enrollment_app.asgi import create_app
from optin.config import Settings
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Purpose
from optin.errors import InvalidInput
from optin.i18n import SUPPORTED, messages, translator
from optin.runtime import open_keys
from optin.services.notices import publish_notices
from optin.services.signage import QR_ERROR, notice_url
from optin.services.venues import create_venue, venues_by_slug


def _settings(database_url: str, tmp_path: Path, **operator: str) -> Settings:
    settings = dataclasses.replace(
        Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")}), database_url=database_url
    )
    if operator:
        settings = dataclasses.replace(
            settings, operator=dataclasses.replace(settings.operator, **operator)
        )
    settings.ensure_data_dir()
    return settings


async def _venues(settings: Settings, *, publish: bool) -> None:
    keys = open_keys(settings)
    engine = create_engine(settings.database_url)
    async with session_factory(engine)() as session:
        await create_venue(session, keys.master, slug="onsen-hotel", name="Onsen Hotel")
        await create_venue(session, keys.master, slug="aquarium", name="Aquarium")
        await session.commit()
        if publish:
            await _publish(settings)
    await engine.dispose()


async def _publish(settings: Settings) -> None:
    """A notice naming onsen-hotel only, for entry only."""
    engine = create_engine(settings.database_url)
    async with session_factory(engine)() as session:
        (onsen,) = await venues_by_slug(session, ["onsen-hotel"])
        await publish_notices(session, settings, [onsen], purposes=[Purpose.ENTRY])
        await session.commit()
    await engine.dispose()


def _path_data(svg: str) -> str:
    match = re.search(r'<path[^>]* d="([^"]+)"', svg)
    assert match, "no QR path in the SVG"
    return match.group(1)


def _expected_qr_path(url: str) -> str:
    out = io.BytesIO()
    segno.make_qr(url, error=QR_ERROR, boost_error=False).save(
        out, kind="svg", xmldecl=False, nl=False, border=4
    )
    return _path_data(out.getvalue().decode())


@pytest.mark.parametrize("size", ["a4", "a3"])
async def test_signage_and_notice_in_every_language(
    database_url: str, tmp_path: Path, size: str
) -> None:
    settings = _settings(database_url, tmp_path)
    await _venues(settings, publish=True)
    operator = settings.operator
    async with AsyncTestClient(create_app(settings)) as client:
        for lang in SUPPORTED:
            t = translator(lang)
            sign = await client.get(
                "/venues/onsen-hotel/signage", params={"lang": lang, "size": size}
            )
            assert sign.status_code == 200, sign.text
            assert "default-src 'none'" in sign.headers["content-security-policy"]
            page = html.unescape(sign.text)
            assert f'class="sheet-{size}"' in page
            assert t.gettext(messages.SIGN_OPERATOR, operator=operator.legal_name) in page
            purpose = t.gettext(messages.PURPOSE_NAMES["entry"])
            assert t.gettext(messages.SIGN_PURPOSES, purposes=purpose) in page
            assert t.gettext(messages.PURPOSE_NAMES["payment"]) not in page  # not covered here
            for contact in (
                operator.contact_email,
                operator.contact_phone,
                operator.contact_address,
            ):
                assert contact in page
            assert t.gettext(messages.SIGN_OTHERS) in page
            assert t.gettext(messages.SIGN_LANE) in page
            # The QR code: inline SVG, and exactly the matrix of the notice page's URL.
            url = notice_url(settings, "onsen-hotel", lang)
            svgs = re.findall(r"<svg.*?</svg>", page, re.S)
            assert len(svgs) == 1
            assert _path_data(svgs[0]) == _expected_qr_path(url)
            assert url in page
            # The notice page it opens: the same summary above the full notice.
            notice = await client.get(url.removeprefix(settings.base_url))
            assert notice.status_code == 200
            text = html.unescape(notice.text)
            assert t.gettext(messages.SIGN_OPERATOR, operator=operator.legal_name) in text
            assert operator.contact_email in text
            assert f'<html lang="{ {"zh": "zh-Hans"}.get(lang, lang) }"' in text
            switched = await client.get(f"/{lang}/venues/onsen-hotel/notice")
            assert switched.status_code == 200
        bad_size = await client.get("/venues/onsen-hotel/signage?lang=en&size=letter")
    assert bad_size.status_code == 404


async def test_no_signage_without_a_published_notice_naming_the_venue(
    database_url: str, tmp_path: Path
) -> None:
    settings = _settings(database_url, tmp_path)
    await _venues(settings, publish=False)
    async with AsyncTestClient(create_app(settings)) as client:
        unpublished = await client.get("/venues/onsen-hotel/signage?lang=ja")
        no_notice = await client.get("/venues/onsen-hotel/notice?lang=ja")
    assert unpublished.status_code == 404
    assert no_notice.status_code == 404

    await _publish(settings)  # names onsen-hotel only
    async with AsyncTestClient(create_app(settings)) as client:
        other = await client.get("/venues/aquarium/signage?lang=en")
        unknown = await client.get("/venues/nowhere/signage?lang=en")
        named = await client.get("/venues/onsen-hotel/signage?lang=en")
    assert other.status_code == 404
    assert unknown.status_code == 404
    assert named.status_code == 200


async def test_a_notice_missing_the_contact_point_is_not_published(
    database_url: str, tmp_path: Path
) -> None:
    settings = _settings(database_url, tmp_path, contact_email=" ")
    with pytest.raises(InvalidInput, match="contact_email"):
        await _venues(settings, publish=True)
    async with AsyncTestClient(create_app(settings)) as client:
        sign = await client.get("/venues/onsen-hotel/signage?lang=ja")
    assert sign.status_code == 404
