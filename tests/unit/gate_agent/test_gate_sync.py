"""Gallery sync: snapshot then long-polled deltas, last good gallery kept, 401 forgets all."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from gate_helpers import unit_vector, wait_for

from gate_agent.cache import load_cache
from gate_agent.client import AgentClient, Unauthorized, Unreachable
from gate_agent.gallery import GalleryError
from gate_agent.state import GateState, View
from gate_agent.sync import REVOKED, GallerySync

from support.fake_agent_api import FakeAgentApi


@pytest.fixture
def api() -> FakeAgentApi:
    api = FakeAgentApi()
    api.enroll("v_a", [unit_vector(1)])
    return api


def _sync(
    api: FakeAgentApi, tmp_path: Path, stop: threading.Event
) -> tuple[GallerySync, GateState]:
    client = AgentClient("http://fake", api.token, transport=api.transport(), retries=0, stop=stop)
    state = GateState()
    return GallerySync(client, state, api.key, tmp_path / "gallery.cache", stop, wait=1), state


def test_poll_once_builds_the_gallery_and_caches_it(api: FakeAgentApi, tmp_path: Path) -> None:
    sync, state = _sync(api, tmp_path, threading.Event())
    sync.poll_once(0)
    assert isinstance(state.view(), View)
    assert state.gallery is not None
    assert list(state.gallery.entries) == ["v_a"]
    cached = load_cache(tmp_path / "gallery.cache", api.key)
    assert cached is not None
    assert cached.gallery.refs == ("v_a",)
    assert api.paths() == ["/config", "/gallery"]
    assert api.requests[-1].query == {"since": "0", "wait": "0"}


def test_a_revocation_reaches_the_gate_within_a_second(api: FakeAgentApi, tmp_path: Path) -> None:
    stop = threading.Event()
    sync, state = _sync(api, tmp_path, stop)
    sync.start()
    try:
        wait_for(lambda: state.gallery is not None and "v_a" in state.gallery.entries)
        time.sleep(0.2)  # the long-poll is waiting now
        started = time.monotonic()
        api.revoke("v_a")
        wait_for(lambda: state.gallery is not None and "v_a" not in state.gallery.entries)
        assert time.monotonic() - started < 1.0
        assert api.requests[-1].query["wait"] == "1"
    finally:
        stop.set()
        sync.join(3)
    cached = load_cache(tmp_path / "gallery.cache", api.key)
    assert cached is not None
    assert cached.gallery.refs == ()


def test_errors_keep_the_last_good_gallery(api: FakeAgentApi, tmp_path: Path) -> None:
    sync, state = _sync(api, tmp_path, threading.Event())
    sync.poll_once(0)
    good = state.gallery
    api.down = True
    with pytest.raises(Unreachable):
        sync.poll_once(0)
    assert state.gallery is good
    api.down = False
    api.enroll("v_bad", [unit_vector(2)])
    api.changes[-1][1]["templates"] = ["not-a-sealed-template"]
    with pytest.raises(GalleryError):
        sync.poll_once(0)
    assert state.gallery is good
    assert isinstance(state.view(), View)


def test_a_refused_token_forgets_gallery_and_cache(api: FakeAgentApi, tmp_path: Path) -> None:
    stop = threading.Event()
    sync, state = _sync(api, tmp_path, stop)
    sync.poll_once(0)
    assert (tmp_path / "gallery.cache").exists()
    api.revoked = True
    with pytest.raises(Unauthorized):
        sync.poll_once(0)
    sync.start()  # the thread handles it: block, delete the cache, back off
    try:
        wait_for(lambda: state.view() == REVOKED)
        wait_for(lambda: not (tmp_path / "gallery.cache").exists())
    finally:
        stop.set()
        sync.join(3)
    assert state.gallery is None


def test_a_restarted_gate_starts_from_its_cache_and_asks_for_changes_only(
    api: FakeAgentApi, tmp_path: Path
) -> None:
    first, _ = _sync(api, tmp_path, threading.Event())
    first.poll_once(0)
    api.enroll("v_b", [unit_vector(2)])
    api.revoke("v_a")  # while the gate was stopped (or killed)
    sync, state = _sync(api, tmp_path, threading.Event())
    assert sync.load_cache()
    # The cached gallery still holds v_a: it is held back until the server's changes are in.
    assert state.config is not None
    assert state.gallery is None
    sync.poll_once(0)
    assert api.requests[-1].query == {"since": "1", "wait": "0"}
    assert state.gallery is not None
    assert sorted(state.gallery.entries) == ["v_b"]


def test_a_restarted_gate_decides_from_its_cache_only_when_the_server_is_not_reached(
    api: FakeAgentApi, tmp_path: Path
) -> None:
    first, _ = _sync(api, tmp_path, threading.Event())
    first.poll_once(0)
    api.down = True
    stop = threading.Event()
    sync, state = _sync(api, tmp_path, stop)
    sync.start()
    try:
        wait_for(lambda: state.gallery is not None)
        assert state.gallery is not None
        assert list(state.gallery.entries) == ["v_a"]
        assert isinstance(state.view(), View)
    finally:
        stop.set()
        sync.join(3)


def test_a_restarted_gate_whose_token_was_revoked_never_uses_its_cache(
    api: FakeAgentApi, tmp_path: Path
) -> None:
    first, _ = _sync(api, tmp_path, threading.Event())
    first.poll_once(0)
    api.revoked = True
    stop = threading.Event()
    sync, state = _sync(api, tmp_path, stop)
    sync.start()
    try:
        wait_for(lambda: state.view() == REVOKED)
        time.sleep(0.2)
        assert state.gallery is None
        assert not (tmp_path / "gallery.cache").exists()
    finally:
        stop.set()
        sync.join(3)


def test_a_rotated_venue_key_brings_a_new_config_and_gallery(
    api: FakeAgentApi, tmp_path: Path
) -> None:
    import secrets

    import numpy as np

    from optin.matching import transform, venue_transform

    sync, state = _sync(api, tmp_path, threading.Event())
    sync.poll_once(0)
    assert state.gallery is not None
    assert list(state.gallery.entries) == ["v_a"]
    # The server rotates the venue key: new seed, new pseudonym, and a snapshot for old gates.
    api.seed = secrets.token_bytes(32)
    api.transform = venue_transform(api.seed)
    api.people.clear()
    api.enroll("v_rotated", [unit_vector(1)])
    api.oldest_delta = api.sequence
    sync.poll_once(0)
    assert list(state.gallery.entries) == ["v_rotated"]
    assert api.paths()[-2:] == ["/gallery", "/config"]
    # Probes now go through the new transform and match the re-issued template.
    view = state.view()
    assert isinstance(view, View)
    probe = transform(api.transform, unit_vector(1))
    assert np.allclose(view.transform @ unit_vector(1), probe, atol=1e-5)
