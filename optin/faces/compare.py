"""Comparing two embeddings: Euclidean distance against a threshold."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from optin.config import FaceSettings
from optin.errors import InvalidInput
from optin.faces.results import EMBEDDING_SIZE

DEFAULT_THRESHOLD = FaceSettings.match_threshold


def face_distance(a: npt.ArrayLike, b: npt.ArrayLike) -> float:
    """Euclidean distance between two 128-d embeddings (0 = identical; same person < ~0.6)."""
    left = np.asarray(a, dtype=np.float64)
    right = np.asarray(b, dtype=np.float64)
    if left.shape != (EMBEDDING_SIZE,) or right.shape != (EMBEDDING_SIZE,):
        raise InvalidInput(
            f"embeddings must have {EMBEDDING_SIZE} values, got {left.shape} and {right.shape}"
        )
    return float(np.linalg.norm(left - right))


def is_match(distance: float, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Same person when the distance is at most the threshold (face_recognition's convention)."""
    return distance <= threshold
