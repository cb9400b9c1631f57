"""A restarted gate without the server: decides from its encrypted cache until the maximum
offline age, parks its events, and sends them (same ids) when the server is back."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

from gate_run import run_agent

from gate_agent.events import EventStore
from gate_agent.state import OFFLINE_TOO_LONG

from support.fake_agent_api import LIN_MANUEL, SAMPLES, FakeAgentApi, sample_embedding


def test_offline_restart_refusal_and_catch_up(tmp_path: Path) -> None:
    camera = tmp_path / "camera"
    camera.mkdir()
    shutil.copy(SAMPLES / "faces" / LIN_MANUEL, camera / "lin.png")
    state = tmp_path / "state"
    api = FakeAgentApi(max_offline_seconds=3600)
    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)])

    # 1. Online: decides, sends, and leaves the encrypted cache behind.
    summary, _ = run_agent(api, state, source=camera)
    assert summary["decisions"] == {"granted": 1}
    assert len(api.events) == 1
    assert (state / "gallery.cache").exists()
    assert not (state / "events.db").exists()  # written ahead, gone once all were sent

    # 2. Restarted while the server is unreachable: the cache lets it decide; the event waits.
    api.down = True
    summary, _ = run_agent(api, state, source=camera)
    assert summary["status"] == "face recognition in operation"
    assert summary["decisions"] == {"granted": 1}
    assert summary["events_pending"] == 1
    store = EventStore(state / "events.db")
    (parked,) = store.pending()
    assert parked["ref"] == "v_lin"
    assert set(parked) == {"id", "ref", "purpose", "outcome", "distance", "occurred_at"}
    assert stat.S_IMODE((state / "events.db").stat().st_mode) == 0o600

    # 3. Past the maximum offline age it refuses: conventional lane only, no face work.
    summary, _ = run_agent(api, state, source=camera, max_offline_seconds=0)
    assert summary["status"] == OFFLINE_TOO_LONG
    assert summary["frames_refused"] == 1
    assert summary["faces"] == 0
    assert summary["decisions"] == {}

    # 4. The server is back: the parked event goes out with its own id, exactly once.
    api.down = False
    empty = tmp_path / "no-one"
    empty.mkdir()
    summary, _ = run_agent(api, state, source=empty)
    assert summary["events_pending"] == 0
    assert parked["id"] in api.events
    assert len(api.events) == 2
    assert store.count() == 0


def test_a_restart_with_another_token_cannot_use_the_cache(tmp_path: Path) -> None:
    camera = tmp_path / "camera"
    camera.mkdir()
    shutil.copy(SAMPLES / "faces" / LIN_MANUEL, camera / "lin.png")
    api = FakeAgentApi()
    api.enroll("v_lin", [sample_embedding(LIN_MANUEL)])
    run_agent(api, tmp_path / "state", source=camera)
    assert (tmp_path / "state" / "gallery.cache").exists()

    other = FakeAgentApi()  # another gate's token, and its server is down
    other.down = True
    import threading

    stop = threading.Event()
    timer = threading.Timer(1.5, stop.set)
    timer.start()
    summary, _ = run_agent(other, tmp_path / "state", source=camera, stop=stop)
    timer.cancel()
    # Without a config it never opened the camera.
    assert summary["frames"] == 0
    assert summary["status"] == "waiting for the server: conventional lane only"
