"""The gate agent against the real server, over real HTTP: enrol Lin-Manuel Miranda through the
enrollment API, register a gate, run the agent on the sample video, find the event in the
database (and nothing about the other person in the clip)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from gate_agent.agent import Agent
from gate_agent.config import AgentConfig
from optin.db.engine import create_engine, session_factory
from optin.db.enums import EventOutcome, Purpose
from optin.db.models import Event

from support.enrollment_world import EnrollmentWorld
from support.fake_agent_api import LIN_MANUEL, VIDEO
from support.served_app import served

VENUE = "onsen-hotel"


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
async def test_the_gate_records_lin_manuel_and_nobody_else(
    world: EnrollmentWorld, tmp_path: Path
) -> None:
    enrolled = await world.enroll(
        LIN_MANUEL, email="lin@example.org", purposes=("entry",), venues=(VENUE,), stay_days=3
    )
    gate, token = await world.register_gate(VENUE)

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
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        events = (await session.scalars(select(Event))).all()
    await engine.dispose()
    (event,) = events
    assert str(event.subject_id) == enrolled["subject_id"]
    assert event.gate_id == gate.id
    assert (event.purpose, event.outcome) == (Purpose.ENTRY, EventOutcome.GRANTED)
    assert 0 < event.distance <= world.settings.faces.match_threshold
