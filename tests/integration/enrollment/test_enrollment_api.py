"""POST /api/v1/enrollments with real photos: what is stored, what is refused, what is mailed."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from optin.db.engine import create_engine, session_factory
from optin.db.models import Consent, FaceTemplate, Notice, SignInLink, Subject

from support.enrollment_world import SAMPLES, EnrollmentWorld

OBAMA = (SAMPLES / "obama" / "obama_4.jpg").read_bytes()
OBAMA_AGAIN = (SAMPLES / "obama" / "obama_small.jpg").read_bytes()
KIT = (SAMPLES / "kit_harington" / "kit_harington_1.jpg").read_bytes()
GROUP = (SAMPLES / "group" / "kit_harington_and_rose_leslie.jpg").read_bytes()


def _form(world: EnrollmentWorld, **overrides: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    fields: dict[str, Any] = {
        "notice_id": world.notices["en"],
        "locale": "en",
        "email": "visitor@example.org",
        "purposes": ["entry"],
        "venues": ["onsen-hotel"],
        "trip_end": (date.today() + timedelta(days=3)).isoformat(),
    }
    photo = overrides.pop("photo", OBAMA)
    fields.update(overrides)
    data = {name: value for name, value in fields.items() if value is not None}
    files = {"photo": ("selfie.jpg", photo, "image/jpeg")} if photo is not None else {}
    return data, files


async def _post(world: EnrollmentWorld, **overrides: Any) -> Any:
    data, files = _form(world, **overrides)
    return await world.client.post("/api/v1/enrollments", data=data, files=files)


async def _counts(world: EnrollmentWorld) -> dict[str, int]:
    engine = create_engine(world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return {
                model.__tablename__: int(
                    await session.scalar(select(func.count()).select_from(model)) or 0
                )
                for model in (Subject, FaceTemplate, Consent, SignInLink)
            }
    finally:
        await engine.dispose()


async def test_enrollment_stores_ciphertext_and_the_exact_notice(world: EnrollmentWorld) -> None:
    response = await _post(
        world, purposes=["entry", "payment"], venues=["onsen-hotel", "adventure-park"]
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["method"] == "photo_upload"
    assert len(body["recovery_code"].split("-")) == 4
    assert body["sign_in_mailed"] is True

    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        subject = await session.get(Subject, __import__("uuid").UUID(body["subject_id"]))
        assert subject is not None
        assert subject.contact_ciphertext is not None
        assert b"visitor@example.org" not in subject.contact_ciphertext
        templates = (await session.scalars(select(FaceTemplate))).all()
        assert len(templates) == 1
        consents = (await session.scalars(select(Consent))).all()
        notice = await session.get(Notice, __import__("uuid").UUID(world.notices["en"]))
        assert notice is not None
        assert len(consents) == 4  # 2 purposes x 2 venues
        for consent in consents:
            assert consent.notice_id == notice.id
            assert consent.notice_sha256 == notice.text_sha256
            assert consent.notice_version == notice.version
            assert consent.withdrawn_at is None
    await engine.dispose()

    receipt = body["receipt"]
    assert receipt["notice"]["sha256"] == notice.text_sha256
    assert receipt["purposes"] == ["entry", "payment"]
    verified = await world.client.post("/api/v1/receipts/verify", json=receipt)
    assert verified.json()["valid"] is True

    [mail] = world.smtp.wait_for(1)
    assert mail.message["To"] == "visitor@example.org"
    assert "/portal/sign-in?token=optin_signin_" in mail.text
    assert world.settings.operator.contact_email in mail.text


async def test_japanese_mail_and_notice(world: EnrollmentWorld) -> None:
    response = await _post(world, locale="ja", notice_id=world.notices["ja"])
    assert response.status_code == 201, response.text
    [mail] = world.smtp.wait_for(1)
    assert any("\u3040" <= ch <= "\u30ff" for ch in mail.text)  # kana in the body


def _png_bytes(size: tuple[int, int], colour: str = "white") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"purposes": None}, 422, "consent-required"),
        ({"venues": None}, 422, "consent-required"),
        ({"venues": ["nowhere"]}, 422, "unknown-venue"),
        ({"email": "not-an-email"}, 400, "invalid-input"),
        ({"trip_end": "2001-01-01"}, 400, "invalid-input"),
        ({"photo": b"this is not an image"}, 422, "image-rejected"),
        ({"photo": None}, 400, "invalid-input"),
        ({"loyalty_id": "GOLD-123"}, 400, "invalid-input"),
    ],
    ids=[
        "no-consent",
        "no-venue",
        "unknown-venue",
        "bad-email",
        "past-trip",
        "not-image",
        "no-photo",
        "loyalty-id",
    ],
)
async def test_bad_input_is_refused_and_stores_nothing(
    world: EnrollmentWorld, overrides: dict[str, Any], status: int, code: str
) -> None:
    response = await _post(world, **overrides)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith(code)
    assert problem["detail"]
    assert await _counts(world) == {
        "subjects": 0,
        "face_templates": 0,
        "consents": 0,
        "sign_in_links": 0,
    }


async def test_face_problems(world: EnrollmentWorld) -> None:
    blank = await _post(world, photo=_png_bytes((640, 480)))
    assert blank.status_code == 422
    assert blank.json()["reason"] == "no-face"
    group = await _post(world, photo=GROUP)
    assert group.status_code == 422
    assert group.json()["reason"] == "several-faces"
    assert (await _counts(world))["subjects"] == 0


async def test_huge_upload_is_refused(world: EnrollmentWorld) -> None:
    huge = b"\xff\xd8\xff" + b"\0" * (world.settings.faces.max_image_bytes + 10)
    response = await _post(world, photo=huge)
    assert response.status_code in (413, 422)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await _counts(world))["subjects"] == 0


async def test_outdated_notice_is_refused(world: EnrollmentWorld) -> None:
    from optin.db.engine import create_engine as make_engine
    from optin.runtime import open_keys
    from optin.services.notices import publish_notices
    from optin.services.venues import list_venues

    engine = make_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        await publish_notices(session, world.settings, list(await list_venues(session)))
        await session.commit()
    await engine.dispose()
    del open_keys
    response = await _post(world)
    assert response.status_code == 409
    assert response.json()["type"].endswith("notice-outdated")
    assert (await _counts(world))["subjects"] == 0


async def test_the_same_face_is_not_enrolled_twice(world: EnrollmentWorld) -> None:
    first = await _post(world)
    assert first.status_code == 201
    again = await _post(world, photo=OBAMA_AGAIN, email="someone-else@example.org")
    assert again.status_code == 409
    problem = again.json()
    assert problem["type"].endswith("already-enrolled")
    # Nothing about the other record leaks: no id, no email, no venue, no date.
    text = json.dumps(problem)
    assert first.json()["subject_id"] not in text
    assert "visitor@example.org" not in text
    other = await _post(world, photo=KIT, email="kit@example.org")
    assert other.status_code == 201
    assert (await _counts(world))["subjects"] == 2


@pytest.mark.parametrize(
    ("lang", "script"),
    [("ja", ("\u3040", "\u30ff")), ("ko", ("\uac00", "\ud7a3")), ("zh", ("\u4e00", "\u9fff"))],
)
async def test_errors_come_in_the_persons_language(
    world: EnrollmentWorld, lang: str, script: tuple[str, str]
) -> None:
    response = await _post(world, locale=lang, notice_id=world.notices[lang], purposes=None)
    problem = response.json()
    assert response.status_code == 422
    assert problem["lang"] == lang
    assert any(script[0] <= ch <= script[1] for ch in problem["detail"]), problem["detail"]
    english = await _post(world, purposes=None)
    assert english.json()["detail"] != problem["detail"]
