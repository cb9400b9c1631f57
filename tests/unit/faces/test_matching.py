"""Gallery search: nearest row, runner-up, agreement with the exact float64 distance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optin.errors import InvalidInput
from optin.faces import face_distance
from optin.matching import Gallery


def random_embeddings(seed: int, count: int) -> np.ndarray:
    # dlib embeddings are roughly unit-length vectors with values around +-0.1.
    return np.random.default_rng(seed).normal(0, 0.09, size=(count, 128))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 40))
def test_nearest_agrees_with_exact_distances(seed: int, count: int) -> None:
    rows = random_embeddings(seed, count + 1)
    gallery, probe = Gallery(rows[:count]), rows[count]
    exact = np.array([face_distance(row, probe) for row in rows[:count]])
    assert np.allclose(gallery.distances(probe), exact, atol=1e-3)

    hit = gallery.nearest(probe)
    assert hit is not None
    assert hit.distance == pytest.approx(exact.min(), abs=1e-3)
    assert exact[hit.index] == pytest.approx(exact.min(), abs=1e-3)
    expected_second = np.sort(exact)[1] if count > 1 else np.inf
    assert hit.second_distance == pytest.approx(expected_second, abs=1e-3)


def test_probe_equal_to_a_row_is_found_at_distance_zero() -> None:
    rows = random_embeddings(7, 5)
    hit = Gallery(rows).nearest(rows[3])
    assert hit is not None
    assert hit.index == 3
    assert hit.distance == pytest.approx(0.0, abs=1e-3)
    assert hit.second_distance > 0.5


def test_empty_gallery_and_bad_shapes() -> None:
    empty = Gallery(np.zeros((0, 128)))
    assert len(empty) == 0
    assert empty.nearest(np.zeros(128)) is None
    with pytest.raises(InvalidInput):
        Gallery(np.zeros((3, 64)))
    with pytest.raises(InvalidInput):
        Gallery(np.zeros((3, 128))).nearest(np.zeros(127))


def test_distances_are_float32() -> None:
    gallery = Gallery(random_embeddings(1, 3))
    assert len(gallery) == 3
    assert gallery.distances(np.zeros(128)).dtype == np.float32
