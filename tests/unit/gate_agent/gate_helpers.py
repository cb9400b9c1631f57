"""Small helpers shared by the gate agent's unit tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt


def unit_vector(seed: int) -> npt.NDArray[np.float32]:
    """A random 128-d vector of length 0.5 (about the spread of real face embeddings)."""
    vector = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return vector / np.linalg.norm(vector) * 0.5


def wait_for(condition: Callable[[], object], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
