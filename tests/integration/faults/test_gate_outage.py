"""The server cut while a gate works: its events wait and arrive once; a withdrawal made while
the gate could not hear of it never admits the person after the gate is back.

The app is served for real (``optin serve``); the real gate agent runs in a thread on a camera
that keeps seeing Lin-Manuel Miranda (each frame a new scene, so he is decided on again every
half second). The server is then killed (SIGKILL: a crash or a pulled cable, nothing answered
on the way out) and started again on the same port.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from harness import App, enroll_and_register_gate, stored_events, wait_until

from gate_agent.agent import Agent
from gate_agent.config import AgentConfig, PipelineSettings
from gate_agent.decisions import Decision
from gate_agent.events import EventStore
from gate_agent.state import OFFLINE_TOO_LONG, OPERATING, View
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Purpose
from optin.services.consents import withdraw

from support.enrollment_world import EnrollmentWorld
from support.photo_camera import PhotoCamera

pytestmark = [
    pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True),
    pytest.mark.slow,
    pytest.mark.timeout(120),
]


@dataclass
class Recorder:
    """The actuator: every decision and when it was made."""

    decisions: list[tuple[float, Decision]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def actuate(self, decision: Decision) -> None:
        with self.lock:
            self.decisions.append((time.monotonic(), decision))

    def close(self) -> None:
        pass

    def ids(self) -> set[str]:
        with self.lock:
            return {d.id for _at, d in self.decisions}

    def grants_after(self, moment: float) -> list[float]:
        with self.lock:
            return [at for at, d in self.decisions if d.granted and at > moment]


@dataclass
class Gate:
    agent: Agent
    recorder: Recorder
    state_dir: Path
    stop: threading.Event
    thread: threading.Thread
    result: dict[str, Any]

    def refs(self) -> frozenset[str] | None:
        view = self.agent.state.view()
        return frozenset(view.gallery.entries) if isinstance(view, View) else None

    def halt(self) -> dict[str, Any]:
        self.stop.set()
        self.thread.join(20)
        assert not self.thread.is_alive(), "the agent did not stop"
        return self.result


def _start_gate(base_url: str, token: str, state_dir: Path, **options: Any) -> Gate:
    config = AgentConfig(
        server_url=base_url,
        token=token,
        state_dir=state_dir,
        # Short, so a stop of the served app does not wait for a held request.
        long_poll_seconds=1,
        pipeline=PipelineSettings(decision_cooldown=0.5),
        **options,
    )
    recorder = Recorder()
    agent = Agent(config, source=PhotoCamera(), actuator=recorder)
    stop = threading.Event()
    result: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: result.update(agent.run(stop)), name="fault-gate")
    thread.start()
    return Gate(agent, recorder, state_dir, stop, thread, result)


async def test_events_made_while_the_server_is_down_arrive_once(
    world: EnrollmentWorld, tmp_path: Path
) -> None:
    _subject, _gate_id, token = await enroll_and_register_gate(world)
    app = App(world.env(), tmp_path / "serve.log")
    await asyncio.to_thread(app.start)
    gate = _start_gate(app.base_url, token, tmp_path / "state")
    try:
        await asyncio.to_thread(wait_until, lambda: len(gate.recorder.ids()) >= 2, 30, "grants")
        await asyncio.to_thread(app.stop, kill=True)
        cut_at = time.monotonic()
        made_before_cut = gate.recorder.ids()
        # The gate keeps deciding from its gallery (well within the maximum offline age).
        await asyncio.to_thread(
            wait_until,
            lambda: len(gate.recorder.ids() - made_before_cut) >= 4,
            20,
            "decisions while the server is down",
        )
        made_offline = gate.recorder.ids() - made_before_cut
        restart = await asyncio.to_thread(app.start)
        up_at = time.monotonic()
        delivered_at = None
        while time.monotonic() - up_at < 30:
            if made_offline <= (await stored_events(world.settings.database_url)).keys():
                delivered_at = time.monotonic()
                break
            await asyncio.sleep(0.2)
        assert delivered_at is not None, "the events made offline were not delivered"
        summary = await asyncio.to_thread(gate.halt)
    finally:
        gate.stop.set()
        await asyncio.to_thread(app.stop)

    decided = gate.recorder.ids()
    stored = await stored_events(world.settings.database_url)
    parked = {event["id"] for event in EventStore(gate.state_dir / "events.db").pending()}
    # None doubled; none lost: every decision is stored, or (made as the agent stopped) parked
    # on disk for its next run; nothing stored that the gate did not decide.
    assert set(stored.values()) == {1}
    assert set(stored) <= decided
    assert decided == set(stored) | parked
    assert summary["events_pending"] == len(parked)
    print(
        f"\nserver down {up_at - cut_at:.2f} s (restart {restart:.2f} s), "
        f"{len(made_offline)} decisions made meanwhile; all delivered "
        f"{delivered_at - up_at:.2f} s after it answered; {len(stored)} events stored once each"
    )


async def test_a_withdrawal_made_while_the_gate_is_offline(
    world: EnrollmentWorld, tmp_path: Path
) -> None:
    max_offline = 4
    subject, _gate_id, token = await enroll_and_register_gate(world)
    app = App(world.env(), tmp_path / "serve.log")
    await asyncio.to_thread(app.start)
    gate = _start_gate(app.base_url, token, tmp_path / "state", max_offline_seconds=max_offline)
    engine = create_engine(world.settings.database_url)
    try:
        (ref,) = await asyncio.to_thread(wait_until, gate.refs, 30, "the gallery")
        await asyncio.to_thread(wait_until, lambda: gate.recorder.grants_after(0), 30, "a grant")
        # The gate loses the server; then he withdraws (the portal's service, same database).
        await asyncio.to_thread(app.stop, kill=True)
        cut_at = time.monotonic()
        async with session_factory(engine)() as session:
            await withdraw(session, world.keys, subject, purpose=Purpose.ENTRY)
        withdrawn_at = time.monotonic()

        # Offline, the gate cannot know: it decides from its gallery until the maximum offline
        # age, counted from its last answer from the server, then stops deciding at all.
        refused_from = await asyncio.to_thread(
            wait_until,
            lambda: gate.agent.state.status() == OFFLINE_TOO_LONG and time.monotonic(),
            max_offline + 10,
            "the gate to stop deciding",
        )
        refused_before = gate.agent.metrics.get("frames_refused")
        await asyncio.sleep(1.0)
        assert gate.agent.metrics.get("frames_refused") > refused_before
        # A frame already being processed when the age ran out may still finish.
        assert not gate.recorder.grants_after(refused_from + 0.5)

        # The server is back: the gate's first answer carries the withdrawal, and it decides
        # again only with him gone.
        await asyncio.to_thread(app.start)
        up_at = time.monotonic()
        await asyncio.to_thread(
            wait_until,
            lambda: gate.agent.state.status() == OPERATING,
            30,
            "the gate to reconnect",
        )
        back_at = time.monotonic()
        refs = gate.refs()
        assert refs is not None
        assert ref not in refs
        processed = gate.agent.metrics.get("frames_processed")
        await asyncio.sleep(1.5)
        assert gate.agent.metrics.get("frames_processed") > processed
        assert gate.agent.state.status() == OPERATING
        assert not gate.recorder.grants_after(refused_from + 0.5), "admitted after withdrawal"
        offline_grants = gate.recorder.grants_after(withdrawn_at)
        await asyncio.to_thread(gate.halt)
    finally:
        gate.stop.set()
        await engine.dispose()
        await asyncio.to_thread(app.stop)
    print(
        f"\nwithdrawn {withdrawn_at - cut_at:.2f} s into the outage; {len(offline_grants)} "
        f"grants from the offline gallery before its {max_offline} s maximum offline age ran "
        f"out ({refused_from - cut_at:.2f} s after the cut); reconnected and operating without "
        f"him {back_at - up_at:.2f} s after the server answered, no grant since"
    )
