"""Searching a gallery of enrolled embeddings for the nearest one to a probe face.

The gallery is an N x 128 float32 matrix: half the memory of float64, and distances stay within
about 1e-3 of the exact ones (worst near zero), far below the gaps that matter around the 0.6
threshold. Distances are Euclidean,
the same as ``optin.faces.face_distance``; the second-best distance lets a caller refuse
ambiguous matches where two enrolled people are almost equally close.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optin.errors import InvalidInput
from optin.faces.results import EMBEDDING_SIZE

Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class GalleryHit:
    """The nearest gallery row: its index, its distance and the runner-up's (inf if none)."""

    index: int
    distance: float
    second_distance: float


class Gallery:
    """An immutable set of embeddings, searched with one matrix product per probe."""

    def __init__(self, embeddings: npt.ArrayLike) -> None:
        matrix = np.array(embeddings, dtype=np.float32, order="C", ndmin=2)
        if matrix.size == 0:
            matrix = matrix.reshape(0, EMBEDDING_SIZE)
        if matrix.ndim != 2 or matrix.shape[1] != EMBEDDING_SIZE:
            raise InvalidInput(f"a gallery is N x {EMBEDDING_SIZE}, got shape {matrix.shape}")
        matrix.setflags(write=False)
        self._matrix: Matrix = matrix
        # |g - p|^2 = |g|^2 - 2 g.p + |p|^2: the gallery norms are computed once.
        self._squared_norms = np.einsum("ij,ij->i", matrix, matrix)

    def __len__(self) -> int:
        return int(self._matrix.shape[0])

    def distances(self, probe: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """The distance from the probe to every gallery row."""
        vector = np.asarray(probe, dtype=np.float32)
        if vector.shape != (EMBEDDING_SIZE,):
            raise InvalidInput(f"a probe has {EMBEDDING_SIZE} values, got shape {vector.shape}")
        squared = self._squared_norms - 2 * (self._matrix @ vector) + vector @ vector
        # Rounding can push an exact match slightly below zero.
        result: npt.NDArray[np.float32] = np.sqrt(np.maximum(squared, 0))
        return result

    def nearest(self, probe: npt.ArrayLike) -> GalleryHit | None:
        """The closest row and the runner-up's distance; None for an empty gallery."""
        distances = self.distances(probe)
        if len(distances) == 0:
            return None
        if len(distances) == 1:
            return GalleryHit(index=0, distance=float(distances[0]), second_distance=float("inf"))
        top_two = np.argpartition(distances, 1)[:2]
        best, second = sorted(top_two, key=lambda i: (distances[i], i))
        return GalleryHit(
            index=int(best),
            distance=float(distances[best]),
            second_distance=float(distances[second]),
        )


def venue_transform(seed: bytes) -> Matrix:
    """A 128x128 orthogonal matrix derived from a venue's seed.

    Orthogonal maps keep Euclidean distances, so matching inside one venue is unchanged, while
    the same face transformed for two venues lands far apart. The QR decomposition of a
    Gaussian matrix, with R's diagonal signs folded in, gives a uniformly random rotation.
    """
    if len(seed) < 16:
        raise InvalidInput("a transform seed has at least 16 bytes")
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(seed, "big")))
    q, r = np.linalg.qr(rng.standard_normal((EMBEDDING_SIZE, EMBEDDING_SIZE)))
    q = q * np.sign(np.diag(r))
    matrix: Matrix = np.ascontiguousarray(q, dtype=np.float32)
    return matrix


def transform(matrix: Matrix, vectors: npt.ArrayLike) -> Matrix:
    """Apply a venue transform to one vector or to rows of vectors."""
    data = np.asarray(vectors, dtype=np.float32)
    result: Matrix = np.ascontiguousarray(data @ matrix.T, dtype=np.float32)
    return result
