"""A running gate forgets a person within a second of a withdrawal or a deletion.

The app is served for real (``optin serve`` in a subprocess) and the real gate agent runs in a
thread, long-polling the gallery with a 5 s wait, on a camera that keeps seeing Lin-Manuel
Miranda: his photo over and over, a new scene every frame, so every frame is a new track that is
matched afresh and granted. Then his entry consent is withdrawn, or he is erased, through the
service layer in this process: a database change made by another process than the server. The
test measures the delay from that commit until the agent no longer matches him: his ref is gone
from the gallery the pipeline decides with, and the last grant (a frame already being processed
with the old gallery may still finish) is behind it. Both must come within a second, through the
long-poll that was waiting at the commit. ``pytest -s`` prints the measured delays.
"""

from __future__ import annotations

import functools
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from gate_agent.agent import Agent
from gate_agent.config import AgentConfig, PipelineSettings
from gate_agent.decisions import Decision
from gate_agent.state import View
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Purpose
from optin.services.consents import erase, withdraw

from support.enrollment_world import EnrollmentWorld
from support.fake_agent_api import LIN_MANUEL
from support.photo_camera import PHOTO, PhotoCamera
from support.served_app import served

VENUE = "onsen-hotel"
#: The agent's long-poll wait: far longer than the bound, so only the server waking the waiting
#: request can deliver a change in time (not a poll that happens to start soon after it). Not
#: longer: stopping the served app waits for the request the agent leaves open.
LONG_POLL_SECONDS = 5
BOUND_SECONDS = 1.0
#: How long the camera keeps showing him after the agent let him go, to see it stay that way.
SETTLE_SECONDS = 1.5

pytestmark = [
    pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True),
    pytest.mark.timeout(90),
]


@dataclass
class Recorder:
    """The actuator: every decision with the moment it was made and the number of its frame.

    The worker counts a frame (``frames_processed``) before it looks at the gallery, and calls
    the actuator before it takes the next one, so the count at that call numbers the frame.
    """

    frame_count: Callable[[], int] = lambda: 0
    decisions: list[tuple[float, int, Decision]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def actuate(self, decision: Decision) -> None:
        with self.lock:
            self.decisions.append((time.monotonic(), self.frame_count(), decision))

    def close(self) -> None:
        pass

    def granted(self, ref: str) -> list[tuple[float, int]]:
        """(when, frame number) of each grant to ``ref``."""
        with self.lock:
            return [(at, frame) for at, frame, d in self.decisions if d.ref == ref and d.granted]


class RecordingTransport(httpx.HTTPTransport):
    """Real HTTP, noting when each gallery request went out and when its answer came back."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.waiting: dict[int, tuple[float, int]] = {}  # in flight: id -> (sent, wait)
        self.answered: list[tuple[float, float, int]] = []  # (sent, answered, wait)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.endswith("/gallery"):
            return super().handle_request(request)
        sent, wait = time.monotonic(), int(request.url.params.get("wait", "0"))
        with self._lock:
            self.waiting[id(request)] = (sent, wait)
        try:
            response = super().handle_request(request)
        finally:
            with self._lock:
                del self.waiting[id(request)]
                self.answered.append((sent, time.monotonic(), wait))
        return response

    def long_poll_held(self, for_at_least: float) -> bool:
        """A long-poll has been waiting on the server this long (past authentication)."""
        now = time.monotonic()
        with self._lock:
            return any(
                wait == LONG_POLL_SECONDS and now - sent >= for_at_least
                for sent, wait in self.waiting.values()
            )


async def _wait_for(condition: Callable[[], Any], within: float, what: str) -> Any:
    """Poll ``condition`` every 5 ms until it is true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await anyio.sleep(0.005)


def _gallery_refs(agent: Agent) -> frozenset[str] | None:
    """The refs in the gallery the pipeline would decide with now (None: it may not decide)."""
    view = agent.state.view()
    return frozenset(view.gallery.entries) if isinstance(view, View) else None


async def _enroll_lin_manuel(world: EnrollmentWorld) -> uuid.UUID:
    enrolled = await world.enroll(
        LIN_MANUEL, email="lin@example.org", purposes=("entry",), venues=(VENUE,), stay_days=3
    )
    return uuid.UUID(enrolled["subject_id"])


async def _measure(
    world: EnrollmentWorld,
    tmp_path: Path,
    change: Callable[[AsyncSession, uuid.UUID], Awaitable[object]],
    what: str,
) -> float:
    """Run the agent until it grants him, make ``change``; the delay until it stops matching."""
    subject = await _enroll_lin_manuel(world)
    _gate, token = await world.register_gate(VENUE)
    engine = create_engine(world.settings.database_url)
    try:
        with served(world.env()) as base_url:
            transport = RecordingTransport()
            recorder = Recorder()
            config = AgentConfig(
                server_url=base_url,
                token=token,
                state_dir=tmp_path / "state",
                long_poll_seconds=LONG_POLL_SECONDS,
                # Frames are a second apart on the camera's clock: every match is a decision.
                pipeline=PipelineSettings(decision_cooldown=0.5),
            )
            agent = Agent(config, transport=transport, source=PhotoCamera(PHOTO), actuator=recorder)
            recorder.frame_count = functools.partial(agent.metrics.get, "frames_processed")
            stop = threading.Event()
            result: dict[str, Any] = {}
            thread = threading.Thread(
                target=lambda: result.update(agent.run(stop)), name="test-gate-agent"
            )
            thread.start()
            try:
                # Synced and recognising him: a granted decision about the one person enrolled.
                refs = await _wait_for(lambda: _gallery_refs(agent), 20, "the gallery")
                (ref,) = refs
                await _wait_for(lambda: recorder.granted(ref), 20, "a granted decision")
                # Change while a long-poll is held open and he is being granted frame by frame.
                await _wait_for(
                    lambda: (
                        transport.long_poll_held(0.3)
                        and time.monotonic() - recorder.granted(ref)[-1][0] < 0.3
                    ),
                    10,
                    "a held long-poll while he is being granted",
                )

                committed: list[float] = []
                async with session_factory(engine)() as session:
                    event.listen(
                        session.sync_session,
                        "after_commit",
                        lambda _s: committed.append(time.monotonic()),
                    )
                    await change(session, subject)
                (committed_at,) = committed

                await _wait_for(
                    lambda: (now := _gallery_refs(agent)) is not None and ref not in now,
                    5,
                    f"{what} to reach the agent",
                )
                gone_at = time.monotonic()
                processed_at_gone = agent.metrics.get("frames_processed")
                await anyio.sleep(SETTLE_SECONDS)
                # The camera kept sending him, the agent kept operating (with nobody left in its
                # gallery it does no face work at all), and it matched him no more.
                assert agent.metrics.get("frames_processed") - processed_at_gone >= 5
                assert agent.state.status() == "face recognition in operation"
                assert _gallery_refs(agent) == frozenset()
                grants = recorder.granted(ref)
                # He was still being granted just before the change.
                assert any(committed_at - 0.5 < at < committed_at for at, _frame in grants)
                last_grant, last_frame = grants[-1]
                # No frame taken up after the gallery changed was granted (one already being
                # processed with the old gallery may still have finished with a grant).
                assert last_frame <= processed_at_gone, "granted after the agent had let him go"
                stopped_at = max(gone_at, last_grant)
                delay = stopped_at - committed_at

                # It came through the waiting long-poll: sent before the commit, answered after.
                (delivery,) = [
                    (sent, answered, wait)
                    for sent, answered, wait in transport.answered
                    if sent < committed_at < answered
                ]
                assert delivery[2] == LONG_POLL_SECONDS
                print(
                    f"\n{what}: gallery without him {gone_at - committed_at:.3f} s after the "
                    f"commit, last grant {last_grant - committed_at:+.3f} s, agent stopped "
                    f"matching him after {delay:.3f} s (long-poll answered "
                    f"{delivery[1] - committed_at:.3f} s after the commit)"
                )
            finally:
                stop.set()
                thread.join(15)
            assert not thread.is_alive(), "the agent did not stop"
            assert result["status"] == "face recognition in operation"
            assert set(result["decisions"]) == {"granted"}
            assert result["decisions"]["granted"] >= 2
            assert "frame_errors" not in result
    finally:
        await engine.dispose()
    return delay


async def test_a_withdrawal_stops_the_running_gate_within_a_second(
    world: EnrollmentWorld, tmp_path: Path
) -> None:
    async def withdraw_entry(session: AsyncSession, subject: uuid.UUID) -> object:
        return await withdraw(session, world.keys, subject, purpose=Purpose.ENTRY)

    delay = await _measure(world, tmp_path, withdraw_entry, "withdrawal")
    assert delay < BOUND_SECONDS, f"the withdrawal took {delay:.3f} s to stop the gate"


async def test_a_deletion_stops_the_running_gate_within_a_second(
    world: EnrollmentWorld, tmp_path: Path
) -> None:
    async def erase_him(session: AsyncSession, subject: uuid.UUID) -> object:
        await erase(session, world.keys, subject)
        return None

    delay = await _measure(world, tmp_path, erase_him, "deletion")
    assert delay < BOUND_SECONDS, f"the deletion took {delay:.3f} s to stop the gate"
