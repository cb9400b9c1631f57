"""The public API: notices, venues, the receipt key and receipt verification, over HTTP."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from litestar.testing import AsyncTestClient

from enrollment_app.asgi import create_app
from optin.config import Settings
from optin.db.base import utcnow, uuid7
from optin.db.engine import create_engine, session_factory
from optin.runtime import open_keys
from optin.services.notices import publish_notices
from optin.services.receipts import build_consent_receipt
from optin.services.venues import create_venue


async def test_notices_venues_and_receipts(database_url: str, tmp_path: Path) -> None:
    settings = dataclasses.replace(
        Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")}), database_url=database_url
    )
    settings.ensure_data_dir()
    keys = open_keys(settings)
    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        venue = await create_venue(session, keys.master, slug="onsen-hotel", name="Onsen Hotel")
        notices = await publish_notices(session, settings, [venue])
        await session.commit()
        receipt = build_consent_receipt(
            settings=settings,
            master_keys=keys.master,
            signer=keys.signer,
            subject_id=uuid7(),
            notice=notices[0],
            purposes=["entry"],
            venues=[venue],
            granted_at=utcnow(),
            retention_until=utcnow(),
        )
    await engine.dispose()

    async with AsyncTestClient(create_app(settings)) as client:
        ja = await client.get("/api/v1/notices", params={"language": "ja"})
        every = await client.get("/api/v1/notices")
        bad_language = await client.get("/api/v1/notices", params={"language": "fr"})
        venues = await client.get("/api/v1/venues")
        jwks = await client.get("/.well-known/jwks.json")
        genuine = await client.post("/api/v1/receipts/verify", json=receipt)
        forged = await client.post(
            "/api/v1/receipts/verify", json={**receipt, "purposes": ["entry", "payment"]}
        )
        not_json = await client.post(
            "/api/v1/receipts/verify",
            content=b"not json",
            headers={"content-type": "application/json"},
        )

    assert ja.status_code == 200
    (notice,) = ja.json()
    assert notice["language"] == "ja"
    assert notice["venues"] == ["onsen-hotel"]
    assert "オプトイン" in notice["title"]
    assert {n["language"] for n in every.json()} == {"ja", "en", "zh", "ko"}
    assert bad_language.status_code == 400
    assert bad_language.headers["content-type"].startswith("application/problem+json")
    assert venues.json() == [
        {"slug": "onsen-hotel", "name": "Onsen Hotel", "timezone": "Asia/Tokyo"}
    ]
    assert jwks.json()["keys"][0]["kid"] == keys.signer.kid
    assert genuine.json() == {"valid": True, "reason": "genuine", "kid": keys.signer.kid}
    assert forged.json()["valid"] is False
    assert not_json.status_code == 400
