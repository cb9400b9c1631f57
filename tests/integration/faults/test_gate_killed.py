"""A gate agent SIGKILLed while it sends its events: after a restart none is lost, none doubled,
and a person withdrawn while it was dead is never admitted.

The app is served for real (``optin serve``) and the real gate agent runs in a process of its own
(``support.gate_process``) in front of a camera that keeps seeing Lin-Manuel Miranda, so it makes
a decision every frame. Between them a proxy (real HTTP) lets the server store one events batch
and holds its answer back: the gate is killed with that batch in flight and more decisions queued
behind it. While the gate is dead he withdraws. The restarted agent's first gallery answer comes
eight seconds late, long enough for a gate that trusted its cached gallery to admit him.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from harness import App, Proxy, enroll_and_register_gate, stored_events, wait_until

from gate_agent.events import EventStore
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Purpose
from optin.services.consents import withdraw

from support.enrollment_world import EnrollmentWorld
from support.gate_process import GateProcess

pytestmark = [
    pytest.mark.parametrize(
        "db_backend",
        ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
        indirect=True,
    ),
    pytest.mark.slow,
    pytest.mark.timeout(120),
]

#: How late the restarted gate's first gallery answer comes: longer than the agent takes to load
#: its models and open the camera (about 4 s here), so a gate deciding from its cache meanwhile
#: would be seen admitting him.
GALLERY_DELAY = 8.0


async def _delivered(database_url: str, ids: set[str], within: float) -> dict[str, int]:
    """What the server stored, once it holds every one of ``ids``."""
    deadline = time.monotonic() + within
    while True:
        stored = await stored_events(database_url)
        if ids <= stored.keys():
            return stored
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(ids - stored.keys())} events never reached the server")
        await asyncio.sleep(0.2)


async def test_a_gate_killed_mid_send_loses_no_event_doubles_none_admits_no_withdrawn(
    world: EnrollmentWorld, tmp_path: Path
) -> None:
    database_url = world.settings.database_url
    subject, _gate_id, token = await enroll_and_register_gate(world)
    app = App(world.env(), tmp_path / "serve.log")
    await asyncio.to_thread(app.start)
    proxy = Proxy(app.base_url)
    state = tmp_path / "state"
    engine = create_engine(database_url)
    first = second = None
    try:
        # 1. Deciding about him frame after frame, and delivering.
        first = GateProcess(proxy.base_url, token, state, tmp_path / "run-1")
        await asyncio.to_thread(wait_until, lambda: len(first.decided()) >= 3, 60, "decisions")
        await _delivered(database_url, {d[0] for d in first.decided()[:2]}, 10)

        # 2. The server stores the next batch, its answer is held, and decisions queue behind it.
        proxy.hold_next_events.set()
        await asyncio.to_thread(proxy.holding.wait, 20)
        assert proxy.holding.is_set(), "no events batch went out"
        queued_from = len(first.decided())
        await asyncio.to_thread(
            wait_until, lambda: len(first.decided()) >= queued_from + 2, 5, "queued decisions"
        )
        first.kill()
        killed_at = time.monotonic()
        decided = [d[0] for d in first.decided()]
        assert len(set(decided)) == len(decided)
        assert {ref for _id, ref, outcome in first.decided()} == {first.decided()[0][1]}
        held = set(proxy.held_ids)
        pending = {e["id"] for e in EventStore(state / "events.db").pending()}
        on_server = await stored_events(database_url)
        assert held <= on_server.keys(), "the held batch was not stored by the server"
        assert held <= pending, "the batch in flight was dropped before the server's answer"
        assert pending - on_server.keys(), "no event was queued, unsent, at the kill"
        assert set(decided) <= on_server.keys() | pending, "events lost at the kill"

        # 3. He withdraws while the gate is dead.
        async with session_factory(engine)() as session:
            await withdraw(session, world.keys, subject, purpose=Purpose.ENTRY)

        # 4. Restarted on the same state directory; its first gallery answer is late.
        proxy.hold_next_events.clear()
        proxy.release.set()
        proxy.gallery_delay = GALLERY_DELAY
        second = GateProcess(proxy.base_url, token, state, tmp_path / "run-2")
        restarted_at = time.monotonic()
        await _delivered(database_url, set(decided), 30)
        delivered_at = time.monotonic()
        await asyncio.to_thread(proxy.delayed_gallery_answered.wait, 30)
        assert proxy.delayed_gallery_answered.is_set(), "the restarted gate asked no gallery"
        await asyncio.to_thread(
            wait_until, lambda: second.logged("FACE RECOGNITION IN OPERATION"), 30, "the camera"
        )
        await asyncio.sleep(2.0)  # the camera keeps showing him to the restarted gate
        assert second.alive(), second.log()
        summary = await asyncio.to_thread(second.terminate)
    finally:
        for run in (first, second):
            if run is not None and run.alive():
                run.kill()
        proxy.close()
        await engine.dispose()
        await asyncio.to_thread(app.stop)

    # The restarted gate ran its camera on him and admitted (decided about) him no more.
    assert second.decided() == [], "the restarted gate admitted a withdrawn person"
    assert summary["decisions"] == {}
    assert summary["frames_processed"] >= 5
    assert summary["status"] == "face recognition in operation"
    # Nothing lost, nothing doubled: every decision stored once, nothing the gate did not decide.
    stored = await stored_events(database_url)
    assert set(stored) == set(decided)
    assert set(stored.values()) == {1}
    # The batch the gate never heard back about was sent again and counted as duplicates.
    assert summary["events_duplicates"] >= len(held)
    assert summary["events_pending"] == 0
    assert EventStore(state / "events.db").count() == 0
    print(
        f"\n{len(decided)} decisions before the kill ({len(held)} in the held batch, "
        f"{len(pending - held)} more queued on disk); all on the server once each "
        f"{delivered_at - restarted_at:.2f} s after the restart "
        f"({restarted_at - killed_at:.2f} s after the kill); "
        f"{summary['frames_processed']} frames after the restart, no decision"
    )
