"""The gate agent against the real server, over real HTTP: enrol Lin-Manuel Miranda through the
enrollment API, register a gate, run the agent on the sample video, find the event in the
database (and nothing about the other person in the clip)."""

from __future__ import annotations

import asyncio
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from gate_agent.agent import Agent
from gate_agent.config import AgentConfig
from optin.db.engine import create_engine, session_factory
from optin.db.enums import EventOutcome, Purpose
from optin.db.models import Event
from optin.services.gates import register_gate

from support.enrollment_world import EnrollmentWorld
from support.fake_agent_api import LIN_MANUEL, SAMPLES, VIDEO
from support.served_app import served

VENUE = "onsen-hotel"


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
async def test_the_gate_records_lin_manuel_and_nobody_else(
    world: EnrollmentWorld, tmp_path: Path
) -> None:
    photo = SAMPLES / "faces" / LIN_MANUEL
    response = await world.client.post(
        "/api/v1/enrollments",
        data={
            "notice_id": world.notices["en"],
            "locale": "en",
            "email": "lin@example.org",
            "purposes": ["entry"],
            "venues": [VENUE],
            "trip_end": (date.today() + timedelta(days=3)).isoformat(),
        },
        files={"photo": ("selfie.png", photo.read_bytes(), "image/png")},
    )
    assert response.status_code == 201, response.text
    subject_id = response.json()["subject_id"]

    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        gate, token = await register_gate(session, world.keys.tokens, VENUE, "Front door")
        await session.commit()

    with served(world.env()) as base_url:
        config = AgentConfig(
            server_url=base_url,
            token=token,
            state_dir=tmp_path / "state",
            source=str(VIDEO),
            realtime=False,
            stride=3,
            long_poll_seconds=1,
        )
        summary = await asyncio.to_thread(Agent(config).run, threading.Event())

    assert summary["venue"] == VENUE
    assert summary["decisions"] == {"granted": 1}
    assert summary["events_sent"] == 1
    assert summary["events_pending"] == 0
    async with session_factory(engine)() as session:
        events = (await session.scalars(select(Event))).all()
    await engine.dispose()
    (event,) = events
    assert str(event.subject_id) == subject_id
    assert event.gate_id == gate.id
    assert (event.purpose, event.outcome) == (Purpose.ENTRY, EventOutcome.GRANTED)
    assert 0 < event.distance <= world.settings.faces.match_threshold
