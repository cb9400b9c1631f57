"""Small builders shared by the gate agent's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from gate_agent.gallery import GalleryState

from support.fake_agent_api import FakeAgentApi

FUTURE = datetime.now(UTC) + timedelta(days=2)


def unit_vector(seed: int) -> npt.NDArray[np.float32]:
    """A random 128-d vector of length 0.5 (about the spread of real face embeddings)."""
    vector = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return vector / np.linalg.norm(vector) * 0.5


def gallery_from(api: FakeAgentApi, since: int = 0) -> tuple[GalleryState, dict[str, Any]]:
    """The gallery an agent would build from the fake server's answer to ``since``."""
    payload = api._gallery(since, 0)
    return GalleryState(api.venue_slug, 0).apply(payload, api.key), payload
