"""Going live at a gate (BRIEF checks 15, 16 and 32).

- Before the venue's notice has been public for the lead time the real server gives the gate
  neither config nor gallery: the agent never opens the camera and says why; once the lead time
  is over, the same gate starts.
- The "face recognition in operation" indicator is on exactly while the source is open.
- A failed match, and fallback mode, tell the person to use the conventional lane, and nothing
  about them is recorded (no decision, no event, nothing in the event store).
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from gate_run import run_agent, video_frames

from gate_agent.agent import Agent
from gate_agent.config import AgentConfig
from gate_agent.decisions import Decision
from gate_agent.sources import Frame, SourceOptions, open_source
from gate_agent.sync import NOTICE_LEAD_TIME
from optin.db.engine import create_engine, session_factory
from optin.services.gates import register_gate

from support.enrollment_world import EnrollmentWorld
from support.fake_agent_api import OTHERS, SAMPLES, VIDEO, FakeAgentApi, sample_embedding
from support.served_app import served

VENUE = "onsen-hotel"


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
async def test_the_gate_waits_for_the_notice_lead_time(
    world: EnrollmentWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        _, token = await register_gate(session, world.keys.tokens, VENUE, "Front door")
        await session.commit()
    await engine.dispose()
    camera = tmp_path / "camera"
    camera.mkdir()
    shutil.copy(SAMPLES / "faces" / OTHERS[0], camera / "someone.jpg")
    config = AgentConfig(
        server_url="",
        token=token,
        state_dir=tmp_path / "state",
        source=str(camera),
        realtime=False,
        long_poll_seconds=1,
        indicator_path=tmp_path / "indicator.json",
    )

    # The notice went out just now; its gates start 24 hours later.
    with served({**world.env(), "OPTIN_NOTICE_LEAD_HOURS": "24"}) as base_url:
        stop = threading.Event()
        timer = threading.Timer(3.0, stop.set)
        timer.start()
        agent = Agent(config.__class__(**{**_fields(config), "server_url": base_url}))
        early = await asyncio.to_thread(agent.run, stop)
        timer.cancel()
    assert early["frames"] == 0  # the camera was never opened
    assert early["indicator"] == {"on": False, "times_on": 0}
    assert early["status"] == NOTICE_LEAD_TIME
    assert early["gate"] is None
    assert json.loads((tmp_path / "indicator.json").read_text())["on"] is False
    waiting = [r.getMessage() for r in caplog.records if "lead time" in r.getMessage()]
    assert waiting
    assert waiting[0].startswith("waiting: the venue's notice")

    # The lead time is over: the same gate opens the camera and recognises.
    with served(world.env()) as base_url:
        agent = Agent(config.__class__(**{**_fields(config), "server_url": base_url}))
        later = await asyncio.to_thread(agent.run, threading.Event())
    assert later["frames"] == 1
    assert later["status"] == "face recognition in operation"
    assert later["venue"] == VENUE
    assert later["indicator"] == {"on": False, "times_on": 1}
    assert json.loads((tmp_path / "indicator.json").read_text())["on"] is False


def _fields(config: AgentConfig) -> dict[str, object]:
    return {name: getattr(config, name) for name in config.__slots__}


class WatchedSource:
    """Frames of the sample video that note whether the indicator is on while they are read."""

    def __init__(self, frames: Iterable[Frame]) -> None:
        self.agent: Agent | None = None
        self.seen: list[bool] = []
        self.closed = False
        self._frames = frames

    @property
    def live(self) -> bool:
        return False

    @property
    def description(self) -> str:
        return "watched frames"

    def frames(self) -> Iterator[Frame]:
        for frame in self._frames:
            assert self.agent is not None
            self.seen.append(self.agent.indicator.on)
            yield frame

    def close(self) -> None:
        assert self.agent is not None
        self.seen.append(self.agent.indicator.on)  # still on while closing
        self.closed = True


class RecordingActuator:
    def __init__(self) -> None:
        self.decisions: list[Decision] = []
        self.lane: list[str] = []

    def actuate(self, decision: Decision) -> None:
        self.decisions.append(decision)

    def direct_to_lane(self, reason: str) -> None:
        self.lane.append(reason)

    def close(self) -> None:
        pass


def _agent(api: FakeAgentApi, tmp_path: Path, source: WatchedSource, **options: object) -> Agent:
    config = AgentConfig(
        server_url="http://gate-api.test",
        token=api.token,
        state_dir=tmp_path / "state",
        realtime=False,
        long_poll_seconds=1,
        indicator_path=tmp_path / "indicator.json",
    )
    config = config.__class__(**{**_fields(config), **options})
    agent = Agent(config, transport=api.transport(), source=source, actuator=RecordingActuator())
    source.agent = agent
    return agent


def test_the_indicator_is_on_exactly_while_the_source_is_open_and_strangers_go_to_the_lane(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = FakeAgentApi()
    for index, photo in enumerate(OTHERS):  # enrolled: people who are not in the clip
        api.enroll(f"v_{index}", [sample_embedding(photo)])
    video = open_source(str(VIDEO), SourceOptions(realtime=False, stride=3))
    source = WatchedSource(video.frames())
    agent = _agent(api, tmp_path, source)
    assert not agent.indicator.on
    summary = agent.run(threading.Event())

    video.close()
    assert source.closed
    assert source.seen
    assert all(source.seen)
    assert not agent.indicator.on  # off once closed
    assert summary["indicator"] == {"on": False, "times_on": 1}
    assert json.loads((tmp_path / "indicator.json").read_text())["on"] is False
    assert any("indicator ON" in record.getMessage() for record in caplog.records)

    # The people in the clip match nobody: sent to the lane, nothing recorded about them.
    actuator = agent._actuator
    assert isinstance(actuator, RecordingActuator)
    assert summary["unmatched_tracks"] >= 1
    assert "no-match" in actuator.lane
    assert summary["lane_prompts"] == len(actuator.lane)
    assert actuator.decisions == []
    assert api.events == {}
    assert summary["events_pending"] == 0
    assert not (tmp_path / "state" / "events.db").exists()


def test_fallback_mode_sends_everyone_to_the_lane(tmp_path: Path) -> None:
    api = FakeAgentApi()
    api.enroll("v_0", [sample_embedding(OTHERS[0])])
    # Online once, to leave the cache; then offline past the maximum age: fallback mode.
    run_agent(api, tmp_path / "state", source=_folder(tmp_path))
    api.down = True
    source = WatchedSource(video_frames(0, 5))
    agent = _agent(api, tmp_path, source, max_offline_seconds=0)
    summary = agent.run(threading.Event())

    actuator = agent._actuator
    assert isinstance(actuator, RecordingActuator)
    assert summary["status"].startswith("offline too long")
    assert actuator.lane == ["fallback"]  # once, when the gate falls back
    assert summary["faces"] == 0  # no face work at all
    assert actuator.decisions == []
    assert all(source.seen)  # the camera is open, so the indicator is on
    assert summary["indicator"] == {"on": False, "times_on": 1}


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "empty-camera"
    folder.mkdir()
    return folder
