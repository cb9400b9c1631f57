"""A change of purpose reaches a running gate: it stops admitting, and admits again on renewal.

The app is served for real (``optin serve`` in a subprocess, its change-of-purpose check every
half second) and the real gate agent runs an entry gate in a thread, on a camera that keeps
seeing Lin-Manuel Miranda, who enrolled for entry and payment. A notice version changing what
"entry" means is published with an effective time announced two seconds ahead: nothing runs a
command when it comes, the server's own periodic check applies it. Until then the gate keeps
admitting him; after it, his gallery entry keeps payment only and the gate stops admitting him
(no consent for entry). He then renews his entry consent through the portal API, on the new
text, and the gate admits him again. ``pytest -s`` prints the measured times.
"""

from __future__ import annotations

import functools
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

# The looping camera and the recording actuator of the live revocation test beside this one.
from test_live_revocation import Recorder

from gate_agent.agent import Agent
from gate_agent.config import AgentConfig, PipelineSettings
from gate_agent.state import View
from optin.db.base import utcnow
from optin.db.engine import create_engine, session_factory
from optin.db.enums import Language, Purpose
from optin.services.notices import publish_notices
from optin.services.venues import list_venues

from support.enrollment_world import EnrollmentWorld
from support.fake_agent_api import LIN_MANUEL
from support.photo_camera import PHOTO, PhotoCamera
from support.served_app import served

VENUE = "onsen-hotel"
#: How often the served app looks for a version that took effect (OPTIN_RENEWAL_CHECK_SECONDS).
CHECK_SECONDS = 0.5
#: How far ahead the change is announced: the gate must keep admitting him until then.
ANNOUNCED_SECONDS = 2.0
SETTLE_SECONDS = 1.5

pytestmark = [
    pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True),
    pytest.mark.timeout(120),
]


async def _wait_for(condition: Callable[[], Any], within: float, what: str) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await anyio.sleep(0.01)


def _purposes(agent: Agent, ref: str) -> frozenset[str] | None:
    """His purposes in the gallery the pipeline decides with now (None: not in it)."""
    view = agent.state.view()
    if not isinstance(view, View) or ref not in view.gallery.entries:
        return None
    return view.gallery.entries[ref].purposes


def _outcomes_after(recorder: Recorder, ref: str, frame: int) -> list[str]:
    """Outcomes of the decisions about ``ref`` on frames taken up after frame ``frame``."""
    with recorder.lock:
        return [d.outcome for _at, n, d in recorder.decisions if d.ref == ref and n > frame]


async def _enroll_and_sign_in(world: EnrollmentWorld) -> tuple[uuid.UUID, str]:
    enrolled = await world.enroll(LIN_MANUEL, email="lin@example.org", venues=(VENUE,), stay_days=3)
    [mail] = world.smtp.wait_for(1)
    token = re.search(r"token=(optin_signin_[A-Za-z0-9_-]+)", mail.text)
    assert token, mail.text
    signed = await world.client.post("/api/v1/portal/sign-in", json={"token": token.group(1)})
    assert signed.status_code == 200, signed.text
    return uuid.UUID(enrolled["subject_id"]), str(signed.json()["csrf_token"])


async def test_a_change_of_entry_stops_the_gate_until_he_renews(
    world: EnrollmentWorld, tmp_path: Path
) -> None:
    _subject, csrf = await _enroll_and_sign_in(world)
    _gate, token = await world.register_gate(VENUE)
    engine = create_engine(world.settings.database_url)
    try:
        env = {**world.env(), "OPTIN_RENEWAL_CHECK_SECONDS": str(CHECK_SECONDS)}
        with served(env) as base_url:
            recorder = Recorder()
            config = AgentConfig(
                server_url=base_url,
                token=token,
                state_dir=tmp_path / "state",
                long_poll_seconds=5,
                pipeline=PipelineSettings(decision_cooldown=0.5),
            )
            agent = Agent(config, source=PhotoCamera(PHOTO), actuator=recorder)
            recorder.frame_count = functools.partial(agent.metrics.get, "frames_processed")
            stop = threading.Event()
            result: dict[str, Any] = {}
            thread = threading.Thread(
                target=lambda: result.update(agent.run(stop)), name="test-gate-agent"
            )
            thread.start()
            try:
                # Admitted at the entry gate, as enrolled.
                view = await _wait_for(
                    lambda: isinstance(v := agent.state.view(), View) and v, 20, "the gallery"
                )
                (ref,) = view.gallery.entries
                assert _purposes(agent, ref) == {"entry", "payment"}
                await _wait_for(lambda: recorder.granted(ref), 20, "a granted decision")

                # Version 2 changes what entry means, announced to apply in two seconds.
                effective_at = utcnow() + timedelta(seconds=ANNOUNCED_SECONDS)
                async with session_factory(engine)() as session:
                    venues = list(await list_venues(session))
                    v2 = await publish_notices(
                        session,
                        world.settings,
                        venues,
                        effective_at=effective_at,
                        changed_purposes=[Purpose.ENTRY],
                    )
                    await session.commit()
                v2_en = next(str(n.id) for n in v2 if n.language == Language.EN)

                # Set aside only once it applies, then within the check interval and a sync.
                await _wait_for(
                    lambda: _purposes(agent, ref) == {"payment"}, 15, "entry to leave the gallery"
                )
                changed_at = utcnow()
                frame_at_change = agent.metrics.get("frames_processed")
                assert changed_at >= effective_at, "applied before the announced time"
                granted_before = [at for at, _frame in recorder.granted(ref)]
                assert granted_before, "he was admitted until the change applied"
                lag = (changed_at - effective_at).total_seconds()
                assert lag < CHECK_SECONDS + 1.5, f"the change took {lag:.3f} s to reach the gate"

                # The camera keeps seeing him: still recognised (payment is still his), but the
                # entry gate no longer admits him.
                await anyio.sleep(SETTLE_SECONDS)
                after = _outcomes_after(recorder, ref, frame_at_change)
                assert after, "no decision about him after the change"
                assert set(after) == {"no_consent"}, after

                # He renews entry in the portal, on the new text.
                renewed = await world.client.post(
                    "/api/v1/portal/renew",
                    json={"purpose": "entry", "venue": VENUE, "notice_id": v2_en},
                    headers={"x-csrf-token": csrf},
                )
                assert renewed.status_code == 200, renewed.text
                renewed_at = time.monotonic()
                await _wait_for(
                    lambda: _purposes(agent, ref) == {"entry", "payment"},
                    5,
                    "entry to come back to the gallery",
                )
                frame_at_renewal = agent.metrics.get("frames_processed")
                back = time.monotonic() - renewed_at
                await _wait_for(
                    lambda: "granted" in _outcomes_after(recorder, ref, frame_at_renewal),
                    10,
                    "a granted decision after the renewal",
                )
                print(
                    f"\nchange of purpose: entry left the gate's gallery {lag:.3f} s after "
                    f"the announced time; after the renewal it was back in {back:.3f} s"
                )
            finally:
                stop.set()
                thread.join(15)
            assert not thread.is_alive(), "the agent did not stop"
            assert result["status"] == "face recognition in operation"
            assert set(result["decisions"]) == {"granted", "no_consent"}
            assert "frame_errors" not in result
    finally:
        await engine.dispose()
