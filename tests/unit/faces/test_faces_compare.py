"""Distances between the copied photos: same person under the threshold, others over it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from face_photos import SINGLES

from optin import faces
from optin.errors import InvalidInput, OptinError


@pytest.fixture(scope="module")
def embeddings(
    templates: dict[str, faces.DetectedFace | OptinError],
) -> dict[str, faces.Embedding]:
    found = {}
    for name, template in templates.items():
        assert isinstance(template, faces.DetectedFace), name
        found[name] = template.embedding
    return found


def pairs(same: bool) -> list[tuple[str, str]]:
    return [
        (a, b) for a, b in itertools.combinations(SINGLES, 2) if (SINGLES[a] == SINGLES[b]) is same
    ]


def test_same_person_is_within_the_threshold(embeddings: dict[str, faces.Embedding]) -> None:
    distances = {pair: faces.face_distance(*(embeddings[n] for n in pair)) for pair in pairs(True)}
    assert len(distances) == 4
    assert all(faces.is_match(d) for d in distances.values()), distances


def test_different_people_are_beyond_the_threshold(
    embeddings: dict[str, faces.Embedding],
) -> None:
    distances = {pair: faces.face_distance(*(embeddings[n] for n in pair)) for pair in pairs(False)}
    assert len(distances) == 17
    assert not any(faces.is_match(d) for d in distances.values()), distances


def test_distance_properties(embeddings: dict[str, faces.Embedding]) -> None:
    a, b = embeddings["obama/obama_small.jpg"], embeddings["rose_leslie/rose_leslie_1.jpg"]
    assert faces.face_distance(a, a) == 0.0
    assert faces.face_distance(a, b) == faces.face_distance(b, a)
    assert faces.face_distance(list(a), b.astype(np.float32)) == pytest.approx(
        faces.face_distance(a, b), abs=1e-6
    )


def test_threshold_is_inclusive() -> None:
    assert faces.DEFAULT_THRESHOLD == 0.6
    assert faces.is_match(0.6)
    assert not faces.is_match(0.6000001)
    assert faces.is_match(0.3, threshold=0.3)
    assert not faces.is_match(0.31, threshold=0.3)


def test_wrong_shapes_are_refused() -> None:
    with pytest.raises(InvalidInput, match="128 values"):
        faces.face_distance(np.zeros(128), np.zeros(127))
