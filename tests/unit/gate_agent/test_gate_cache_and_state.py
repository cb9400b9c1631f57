"""The encrypted offline cache and the rules for deciding offline."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import numpy as np
import pytest
from gate_helpers import unit_vector

from gate_agent.cache import CachedGate, load_cache, save_cache
from gate_agent.gallery import GalleryState, GateConfig
from gate_agent.state import (
    NO_CONFIG,
    NO_GALLERY,
    OFFLINE_TOO_LONG,
    OPERATING,
    GateState,
    View,
)
from optin.crypto._b64 import b64url_decode
from optin.crypto.gate_wire import gate_key

from support.fake_agent_api import FakeAgentApi, new_gate_token


@pytest.fixture
def api() -> FakeAgentApi:
    api = FakeAgentApi(max_offline_seconds=600)
    api.enroll("v_a", [unit_vector(1), unit_vector(2)], purposes=["entry", "payment"])
    api.enroll("v_b", [unit_vector(3)], entry_until=None)
    return api


def _cached(api: FakeAgentApi, synced_at: float) -> CachedGate:
    gallery = GalleryState(api.venue_slug, 0).apply(api._gallery(0, 0), api.key)
    return CachedGate(GateConfig.from_json(api.config_json()), gallery, synced_at)


def test_round_trip_private_file_and_no_plaintext(api: FakeAgentApi, tmp_path: Path) -> None:
    path = tmp_path / "state" / "gallery.cache"
    cached = _cached(api, 1234.5)
    save_cache(path, api.key, cached)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_bytes()
    # base64url text: a quote (any piece of the JSON inside) or the venue's name would be plaintext.
    assert re.fullmatch(rb"[A-Za-z0-9_-]+", raw)
    assert api.venue_slug.encode() not in raw
    sealed = b64url_decode(raw.decode())
    template = np.ascontiguousarray(cached.gallery.entries["v_a"].templates[0], "<f4").tobytes()
    assert template[:16] not in sealed

    loaded = load_cache(path, api.key)
    assert loaded is not None
    assert loaded.synced_at == 1234.5
    assert loaded.config == cached.config
    assert loaded.gallery.refs == cached.gallery.refs
    np.testing.assert_array_equal(
        loaded.gallery.entries["v_a"].templates, cached.gallery.entries["v_a"].templates
    )


def test_another_token_cannot_open_it(api: FakeAgentApi, tmp_path: Path) -> None:
    path = tmp_path / "gallery.cache"
    save_cache(path, api.key, _cached(api, 1.0))
    assert load_cache(path, gate_key(new_gate_token())) is None


def test_tampered_or_exposed_caches_are_ignored(api: FakeAgentApi, tmp_path: Path) -> None:
    path = tmp_path / "gallery.cache"
    assert load_cache(path, api.key) is None  # none yet
    save_cache(path, api.key, _cached(api, 1.0))
    data = bytearray(path.read_bytes())
    data[40] ^= 1 if data[40] != ord("A") else 2
    path.write_bytes(bytes(data))
    assert load_cache(path, api.key) is None
    save_cache(path, api.key, _cached(api, 1.0))
    path.chmod(0o644)
    assert load_cache(path, api.key) is None  # readable by others: refused


def test_a_write_cut_short_by_a_kill_leaves_the_previous_cache_whole(
    api: FakeAgentApi, tmp_path: Path
) -> None:
    path = tmp_path / "gallery.cache"
    save_cache(path, api.key, _cached(api, 1.0))
    before = path.read_bytes()
    # A gate SIGKILLed while writing the next version: its temporary file, half written, never
    # renamed over the cache (``replace_private_file`` only renames a complete, fsynced file).
    torn = tmp_path / ".gallery.cache.0123456789abcdef.tmp"
    torn.write_bytes(before[: len(before) // 2])
    loaded = load_cache(path, api.key)
    assert loaded is not None
    assert loaded.synced_at == 1.0
    assert path.read_bytes() == before
    assert not torn.exists()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_deciding_stops_past_the_maximum_offline_age(api: FakeAgentApi) -> None:
    clock = Clock(10_000.0)
    state = GateState(clock=clock)
    assert state.view() == NO_CONFIG
    cached = _cached(api, synced_at=10_000.0)
    state.set_config(cached.config, api.key)
    assert state.view() == NO_GALLERY
    state.set_gallery(cached.gallery, cached.synced_at)
    assert isinstance(state.view(), View)
    assert state.status() == OPERATING
    clock.now += 600
    assert isinstance(state.view(), View)  # exactly at the limit: still fine
    clock.now += 1
    assert state.view() == OFFLINE_TOO_LONG
    state.touch(clock.now)  # the server answered again
    assert isinstance(state.view(), View)


def test_a_local_limit_can_only_lower_the_servers(api: FakeAgentApi) -> None:
    cached = _cached(api, synced_at=0.0)
    lower = GateState(max_offline_override=60, clock=Clock(61.0))
    higher = GateState(max_offline_override=10_000, clock=Clock(601.0))
    for state in (lower, higher):
        state.set_config(cached.config, api.key)
        state.set_gallery(cached.gallery, 0.0)
        assert state.view() == OFFLINE_TOO_LONG


def test_a_new_venue_or_seed_drops_the_old_gallery(api: FakeAgentApi) -> None:
    cached = _cached(api, synced_at=0.0)
    state = GateState(clock=Clock(1.0))
    state.set_config(cached.config, api.key)
    state.set_gallery(cached.gallery, 0.0)
    state.set_config(cached.config, api.key)  # the same config again: nothing changes
    assert state.gallery is cached.gallery
    api.seed = b"another seed of at least 16 bytes"
    state.set_config(GateConfig.from_json(api.config_json()), api.key)
    assert state.gallery is None
    assert state.view() == NO_GALLERY


def test_blocked_gate_forgets_its_gallery(api: FakeAgentApi) -> None:
    cached = _cached(api, synced_at=0.0)
    state = GateState(clock=Clock(1.0))
    state.set_config(cached.config, api.key)
    state.set_gallery(cached.gallery, 0.0)
    state.block("revoked")
    assert state.gallery is None
    assert state.view() == "revoked"
