"""Typed results of face analysis: a box, a quality report and a detected face."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

#: A face embedding: 128 float64 values, exactly as dlib's encoder returns them.
Embedding = npt.NDArray[np.float64]

EMBEDDING_SIZE = 128


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face rectangle in image pixels, in face_recognition's (top, right, bottom, left) order.

    ``right`` and ``bottom`` are exclusive. A raw detector box may reach past the image (negative
    or too large values); ``clamped`` brings it inside.
    """

    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def clamped(self, height: int, width: int) -> FaceBox:
        return FaceBox(
            top=max(self.top, 0),
            right=min(self.right, width),
            bottom=min(self.bottom, height),
            left=max(self.left, 0),
        )

    def scaled(self, factor: float) -> FaceBox:
        return FaceBox(
            top=round(self.top * factor),
            right=round(self.right * factor),
            bottom=round(self.bottom * factor),
            left=round(self.left * factor),
        )

    def as_css(self) -> tuple[int, int, int, int]:
        """The tuple face_recognition takes as a face location."""
        return (self.top, self.right, self.bottom, self.left)

    def as_list(self) -> list[int]:
        return [self.top, self.right, self.bottom, self.left]


@dataclass(frozen=True, slots=True)
class QualityReport:
    """How usable one face is. ``reasons`` holds stable codes; empty means ``passed``.

    ``border_margin`` is the distance from the face (detector box and 68 landmarks) to the
    nearest image edge, as a fraction of the face width: negative means the face is cut off.
    ``blur`` is the variance of a Laplacian over the face resized to 100x100 grey pixels:
    higher is sharper.
    """

    face_width: int
    face_height: int
    blur: float
    border_margin: float
    reasons: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reasons": list(self.reasons),
            "face_width": self.face_width,
            "face_height": self.face_height,
            "blur": round(self.blur, 1),
            "border_margin": round(self.border_margin, 3),
        }


@dataclass(frozen=True, slots=True)
class DetectedFace:
    """One face: its box (inside the image), its embedding and its quality report."""

    box: FaceBox
    embedding: Embedding = field(repr=False)  # never in logs or reprs: it is biometric data
    quality: QualityReport

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape the CLI prints: ``{"box", "embedding", "quality"}``."""
        return {
            "box": self.box.as_list(),
            "embedding": [float(value) for value in self.embedding],
            "quality": self.quality.as_dict(),
        }
