"""An app on a fresh database with two venues, a published notice and a real SMTP server.

Import the fixtures into a test directory's conftest.py::

    from support.enrollment_world import world  # noqa: F401
    from support.smtp import smtp_server  # noqa: F401
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from enrollment_app.asgi import create_app
from optin.config import GateSettings, Settings
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Language, Purpose
from optin.db.models import Gate
from optin.runtime import Keys, open_keys
from optin.services.gates import register_gate
from optin.services.notices import publish_notices
from optin.services.renewal import apply_purpose_changes
from optin.services.venues import create_venue, list_venues

from support.smtp import SmtpServer, smtp_server  # noqa: F401 - a pytest fixture

T = TypeVar("T")

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "faces"


def settings_env(settings: Settings, smtp: SmtpServer) -> dict[str, str]:
    """The OPTIN_* variables that give a subprocess the same settings as this world."""
    return {
        "OPTIN_DATA_DIR": str(settings.data_dir),
        "OPTIN_DATABASE_URL": settings.database_url,
        "OPTIN_NOTICE_LEAD_HOURS": str(settings.gates.notice_lead_hours),
        **smtp.env(),
    }


@dataclass
class EnrollmentWorld:
    settings: Settings
    client: AsyncTestClient[Any]
    notices: dict[str, str]  # language -> notice id
    smtp: SmtpServer
    keys: Keys

    def env(self) -> dict[str, str]:
        return settings_env(self.settings, self.smtp)

    async def enroll(
        self,
        photo: str = "obama/obama_4.jpg",
        *,
        email: str = "visitor@example.org",
        purposes: tuple[str, ...] = ("entry", "payment"),
        venues: tuple[str, ...] = ("onsen-hotel",),
        stay_days: int = 5,
    ) -> dict[str, Any]:
        """Enroll through the API with a sample photo (the upload path); the 201 body."""
        path = SAMPLES / photo
        response = await self.client.post(
            "/api/v1/enrollments",
            data={
                "notice_id": self.notices["en"],
                "locale": "en",
                "email": email,
                "purposes": list(purposes),
                "venues": list(venues),
                "trip_end": (date.today() + timedelta(days=stay_days)).isoformat(),
            },
            files={"photo": (f"selfie{path.suffix}", path.read_bytes(), _media_type(path))},
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def in_db(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in a session on this world's database and commit; what it returned."""
        engine = create_engine(self.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    async def change_purposes(self, *changed: Purpose) -> tuple[dict[Language, str], int]:
        """Publish the next notice version, changing ``changed``, in effect now, and apply it as
        the CLI does: the new notice ids by language, and how many consents were set aside."""

        async def work(session: AsyncSession) -> tuple[dict[Language, str], int]:
            venues = list(await list_venues(session))
            notices = await publish_notices(
                session, self.settings, venues, changed_purposes=list(changed)
            )
            await session.commit()
            set_aside = await apply_purpose_changes(session, self.keys)
            return {n.language: str(n.id) for n in notices}, set_aside

        return await self.in_db(work)

    async def register_gate(
        self, venue: str = "onsen-hotel", name: str = "Front door"
    ) -> tuple[Gate, str]:
        """A gate registered at ``venue`` straight in the database: the gate and its token."""
        return await self.in_db(
            lambda session: register_gate(session, self.keys.tokens, venue, name)
        )


def _media_type(path: Path) -> str:
    return "image/png" if path.suffix == ".png" else "image/jpeg"


@pytest.fixture
async def world(
    database_url: str,
    tmp_path: Path,
    smtp_server: SmtpServer,  # noqa: F811
) -> AsyncIterator[EnrollmentWorld]:
    settings = dataclasses.replace(
        Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")}),
        database_url=database_url,
        mail=smtp_server.mail_settings(),
        # Gates may start as soon as the notice is out (the lead time has its own test).
        gates=GateSettings(notice_lead_hours=0),
    )
    settings.ensure_data_dir()
    keys = open_keys(settings)
    engine = create_engine(database_url)
    async with session_factory(engine)() as session:
        hotel = await create_venue(session, keys.master, slug="onsen-hotel", name="Onsen Hotel")
        park = await create_venue(session, keys.master, slug="adventure-park", name="Park")
        notices = await publish_notices(session, settings, [hotel, park])
        await session.commit()
    await engine.dispose()
    async with AsyncTestClient(create_app(settings)) as client:
        yield EnrollmentWorld(
            settings=settings,
            client=client,
            notices={str(n.language): str(n.id) for n in notices},
            smtp=smtp_server,
            keys=keys,
        )
