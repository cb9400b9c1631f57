"""The gate's gallery: snapshots, deltas, revocations, per-person search, bad payloads."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from gate_helpers import unit_vector

from gate_agent.gallery import GalleryError, GalleryState, GateConfig
from optin.crypto.gate_wire import gate_key
from optin.matching import transform

from support.fake_agent_api import FakeAgentApi, new_gate_token


def _apply(state: GalleryState, api: FakeAgentApi, since: int) -> GalleryState:
    return state.apply(api._gallery(since, 0), api.key)


def test_snapshot_then_deltas_add_replace_and_revoke() -> None:
    api = FakeAgentApi()
    api.enroll("v_a", [unit_vector(1)], purposes=["entry"])
    api.enroll("v_b", [unit_vector(2), unit_vector(3)], purposes=["entry", "payment"])
    state = _apply(GalleryState(api.venue_slug, 0), api, 0)
    assert state.sequence == 2
    assert sorted(state.entries) == ["v_a", "v_b"]
    assert state.entries["v_b"].templates.shape == (2, 128)
    assert state.entries["v_b"].purposes == {"entry", "payment"}
    assert isinstance(state.entries["v_a"].entry_until, datetime)

    # Payment withdrawn: the server sends the person again with fewer purposes.
    api.enroll("v_b", [unit_vector(2)], purposes=["entry"], entry_until=None)
    api.revoke("v_a")
    api.enroll("v_c", [unit_vector(4)])
    state = _apply(state, api, state.sequence)
    assert state.sequence == 5
    assert sorted(state.entries) == ["v_b", "v_c"]
    assert state.entries["v_b"].purposes == {"entry"}
    assert state.entries["v_b"].entry_until is None
    assert state.entries["v_b"].templates.shape == (1, 128)

    # A snapshot replaces everything, whatever the gate held.
    api.revoke("v_c")
    snapshot = _apply(state, api, 0)
    assert sorted(snapshot.entries) == ["v_b"]


def test_templates_are_opened_as_the_server_transformed_them() -> None:
    api = FakeAgentApi()
    raw = unit_vector(7)
    api.enroll("v_a", [raw])
    state = _apply(GalleryState(api.venue_slug, 0), api, 0)
    expected = transform(api.transform, raw)
    np.testing.assert_allclose(state.entries["v_a"].templates[0], expected, atol=1e-6)
    config = GateConfig.from_json(api.config_json())
    np.testing.assert_allclose(config.transform(api.key), api.transform)


def test_an_empty_delta_keeps_everything() -> None:
    api = FakeAgentApi()
    api.enroll("v_a", [unit_vector(1)])
    state = _apply(GalleryState(api.venue_slug, 0), api, 0)
    again = _apply(state, api, state.sequence)
    assert again.sequence == state.sequence
    assert list(again.entries) == ["v_a"]


def test_person_distances_take_each_persons_nearest_template() -> None:
    api = FakeAgentApi()
    a1, a2, b = unit_vector(1), unit_vector(2), unit_vector(3)
    api.enroll("v_a", [a1, a2])
    api.enroll("v_b", [b])
    state = _apply(GalleryState(api.venue_slug, 0), api, 0)
    probe = transform(api.transform, a2)
    distances = state.person_distances(probe)
    assert state.refs == ("v_a", "v_b")
    assert distances[0] == pytest.approx(0.0, abs=1e-3)
    assert distances[1] == pytest.approx(float(np.linalg.norm(a2 - b)), abs=1e-3)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: {**p, "venue": "another-venue"},
        lambda p: {**p, "kind": "patch"},
        lambda p: {k: v for k, v in p.items() if k != "sequence"},
        lambda p: {**p, "entries": [{**p["entries"][0], "action": "drop"}]},
        lambda p: {**p, "entries": [{**p["entries"][0], "ref": "v_other"}]},  # AAD mismatch
        lambda p: {**p, "entries": [{**p["entries"][0], "templates": ["AAAA"]}]},
        lambda p: {**p, "entries": [{**p["entries"][0], "entry_until": "tomorrow"}]},
        lambda p: {**p, "entries": [{**p["entries"][0], "entry_until": "2030-01-01T00:00:00"}]},
    ],
    ids=["venue", "kind", "sequence", "action", "ref", "template", "date", "naive-date"],
)
def test_a_bad_payload_is_refused_whole(tamper: object) -> None:
    api = FakeAgentApi()
    api.enroll("v_a", [unit_vector(1)])
    payload = api._gallery(0, 0)
    with pytest.raises(GalleryError):
        GalleryState(api.venue_slug, 0).apply(tamper(payload), api.key)  # type: ignore[operator]


def test_another_gates_key_opens_nothing() -> None:
    api = FakeAgentApi()
    api.enroll("v_a", [unit_vector(1)])
    with pytest.raises(GalleryError, match="does not open"):
        GalleryState(api.venue_slug, 0).apply(api._gallery(0, 0), gate_key(new_gate_token()))
    config = GateConfig.from_json(api.config_json())
    with pytest.raises(GalleryError, match="seed"):
        config.transform(gate_key(new_gate_token()))


def test_a_delta_cannot_go_back_in_sequence() -> None:
    api = FakeAgentApi()
    api.enroll("v_a", [unit_vector(1)])
    state = GalleryState(api.venue_slug, 5)
    payload = {**api._gallery(1, 0), "kind": "delta", "sequence": 1}
    with pytest.raises(GalleryError, match="back"):
        state.apply(payload, api.key)


def test_cache_form_round_trips() -> None:
    api = FakeAgentApi()
    api.enroll("v_a", [unit_vector(1), unit_vector(2)], purposes=["payment"])
    api.enroll("v_b", [unit_vector(3)], entry_until=datetime(2031, 1, 1, tzinfo=UTC))
    state = _apply(GalleryState(api.venue_slug, 0), api, 0)
    copy = GalleryState.from_json(state.to_json())
    assert (copy.venue, copy.sequence, copy.refs) == (state.venue, state.sequence, state.refs)
    for ref, entry in state.entries.items():
        assert copy.entries[ref] == entry
        np.testing.assert_array_equal(copy.entries[ref].templates, entry.templates)


def test_config_is_validated() -> None:
    api = FakeAgentApi()
    good = api.config_json()
    assert GateConfig.from_json(good).venue_slug == api.venue_slug
    for bad in (
        {k: v for k, v in good.items() if k != "transform_seed"},
        {**good, "match_threshold": "high"},
        {**good, "match_threshold": 5},
        {**good, "max_offline_seconds": -1},
    ):
        with pytest.raises(GalleryError):
            GateConfig.from_json(bad)
    assert "transform_seed" not in repr(GateConfig.from_json(good))
