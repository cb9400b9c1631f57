"""Matching: threshold, margin over the second-best person, ambiguity means no decision."""

from __future__ import annotations

import numpy as np
from gate_helpers import unit_vector

from gate_agent.gallery import GalleryState
from gate_agent.matching import MatchKind, match
from optin.matching import transform

from support.fake_agent_api import FakeAgentApi


def _gallery(api: FakeAgentApi) -> GalleryState:
    return GalleryState(api.venue_slug, 0).apply(api._gallery(0, 0), api.key)


def _towards(a: np.ndarray, b: np.ndarray, fraction: float) -> np.ndarray:
    return a + (b - a) * fraction


def test_a_clear_match_names_the_person() -> None:
    api = FakeAgentApi()
    a, b = unit_vector(1), unit_vector(2)
    api.enroll("v_a", [a])
    api.enroll("v_b", [b])
    probe = transform(api.transform, _towards(a, b, 0.1))
    result = match(_gallery(api), probe, threshold=0.6, margin=0.05)
    assert result.kind is MatchKind.MATCH
    assert result.ref == "v_a"
    assert abs(result.distance - float(np.linalg.norm((b - a) * 0.1))) < 1e-3


def test_nearly_as_close_to_two_people_is_ambiguous() -> None:
    api = FakeAgentApi()
    a = unit_vector(1)
    b = a + unit_vector(2) * 0.3  # two people 0.15 apart... close relatives, or a bad template
    api.enroll("v_a", [a])
    api.enroll("v_b", [b])
    probe = transform(api.transform, _towards(a, b, 0.45))  # 0.0675 from a, 0.0825 from b
    gallery = _gallery(api)
    assert match(gallery, probe, threshold=0.6, margin=0.05).kind is MatchKind.AMBIGUOUS
    # With no margin asked, the nearer one wins.
    assert match(gallery, probe, threshold=0.6, margin=0.0).ref == "v_a"


def test_the_same_persons_other_template_is_not_a_runner_up() -> None:
    api = FakeAgentApi()
    a = unit_vector(1)
    api.enroll("v_a", [a, a + unit_vector(3) * 0.02])
    api.enroll("v_b", [unit_vector(2)])
    probe = transform(api.transform, a)
    assert match(_gallery(api), probe, threshold=0.6, margin=0.05).ref == "v_a"


def test_beyond_the_threshold_is_nobody() -> None:
    api = FakeAgentApi()
    api.enroll("v_a", [unit_vector(1)])
    probe = transform(api.transform, unit_vector(9))  # ~0.7 away
    assert match(_gallery(api), probe, threshold=0.6, margin=0.05).kind is MatchKind.NONE
    empty = GalleryState(api.venue_slug, 0)
    assert match(empty, probe, threshold=0.6, margin=0.05).kind is MatchKind.NONE


def test_an_untransformed_probe_matches_nobody() -> None:
    """The venue transform is part of matching: a raw embedding lands far from the templates."""
    api = FakeAgentApi()
    a = unit_vector(1)
    api.enroll("v_a", [a])
    assert match(_gallery(api), a, threshold=0.6, margin=0.05).kind is MatchKind.NONE


def test_one_probe_against_many_people_is_fast() -> None:
    import time

    from gate_agent.gallery import Entry

    rng = np.random.default_rng(0)
    templates = rng.standard_normal((100_000, 128)).astype(np.float32)
    entries = [
        Entry(f"v_{i}", frozenset({"entry"}), None, templates[i : i + 1]) for i in range(100_000)
    ]
    gallery = GalleryState("big", 1, entries)
    probe = templates[4242] + 0.01
    started = time.perf_counter()
    for _ in range(20):
        result = match(gallery, probe, threshold=0.6, margin=0.05)
    per_probe = (time.perf_counter() - started) / 20
    assert result.ref == "v_4242"
    assert per_probe < 0.1, f"{per_probe * 1000:.1f} ms per probe over 100,000 people"
