"""Face work on video frames for the gate: detect on a shrunken copy, align once, encode.

``engine`` serves single photos (68 landmarks for the quality gate, detection capped at 1024 px);
a gate sees 30 frames a second and needs to spend less per frame:

- ``detect`` searches a copy shrunk by ``scale`` (time grows with pixels) and maps the boxes
  back to full-frame pixels;
- ``align`` fits the 5-point landmarks the encoder needs anyway, once, so the caller can judge
  the pose from them (``yaw_ratio``) before paying for an encoding;
- ``encode`` computes the embedding from those landmarks on the full-resolution frame.

Frames are RGB uint8 and C-contiguous (``as_rgb`` makes them so): dlib refuses the view that
``bgr[:, :, ::-1]`` gives. Nothing here keeps, logs or writes an image or an embedding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from optin.faces.engine import _face_recognition
from optin.faces.images import RGBImage
from optin.faces.results import EMBEDDING_SIZE, Embedding, FaceBox

#: Five (x, y) points per face: two corners of each eye, then the base of the nose.
Points = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AlignedFace:
    """A face box with its 5-point landmarks, ready to encode."""

    box: FaceBox
    points: Points = field(repr=False)
    shape: Any = field(repr=False)  # dlib.full_object_detection, opaque outside this module


def as_rgb(frame: npt.NDArray[np.uint8], *, bgr: bool = False) -> RGBImage:
    """A C-contiguous RGB copy of an OpenCV (BGR) or RGB uint8 frame."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 frame, got {frame.dtype} {frame.shape}")
    return np.ascontiguousarray(frame[:, :, ::-1] if bgr else frame)


def shrink(image: RGBImage, scale: float) -> RGBImage:
    """The image resized by ``scale`` (bilinear), or the image itself when ``scale`` is 1."""
    if scale == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(image).resize(size, Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(resized, dtype=np.uint8))


def detect(image: RGBImage, *, scale: float = 1.0, upsample: int = 1) -> list[FaceBox]:
    """HOG detector boxes in full-image pixels, searched on a copy shrunk by ``scale``.

    Boxes are raw (not clamped): one reaching past the border tells a face cut off.
    """
    if not 0.0 < scale <= 1.0:
        raise ValueError(f"scale must be in (0, 1], got {scale}")
    fr = _face_recognition()
    rects: Any = fr.api.face_detector(shrink(image, scale), upsample)
    boxes = [FaceBox(r.top(), r.right(), r.bottom(), r.left()) for r in rects]
    return [box.scaled(1 / scale) for box in boxes] if scale != 1.0 else boxes


def align(image: RGBImage, boxes: Sequence[FaceBox]) -> list[AlignedFace]:
    """Fit the 5-point landmarks of each box (about 1 ms a face)."""
    if not boxes:
        return []
    fr = _face_recognition()
    aligned = []
    for box in boxes:
        rect = fr.api._css_to_rect(box.as_css())
        shape = fr.api.pose_predictor_5_point(image, rect)
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        aligned.append(AlignedFace(box=box, points=points, shape=shape))
    return aligned


def encode(image: RGBImage, face: AlignedFace) -> Embedding:
    """The 128-d embedding of one aligned face (about 70 ms on one core)."""
    fr = _face_recognition()
    raw = fr.api.face_encoder.compute_face_descriptor(image, face.shape, 1)
    embedding = np.asarray(raw, dtype=np.float64).reshape(EMBEDDING_SIZE)
    embedding.setflags(write=False)
    return embedding


def yaw_ratio(points: Points) -> float:
    """How far the nose sits sideways from the middle of the eyes, in eye distances.

    About 0 for a frontal face, growing as the head turns; the sign is dropped. dlib's 5-point
    model gives the outer and inner corner of one eye (0, 1), of the other (2, 3), then the nose.
    """
    if points.shape != (5, 2):
        raise ValueError(f"expected 5 landmark points, got shape {points.shape}")
    eye_a = points[0:2].mean(axis=0)
    eye_b = points[2:4].mean(axis=0)
    axis = eye_b - eye_a
    span = float(np.hypot(*axis))
    if span == 0.0:
        return float("inf")
    middle = (eye_a + eye_b) / 2
    # Project the nose offset on the eye axis: sideways displacement, whatever the head's roll.
    sideways = float(np.dot(points[4] - middle, axis)) / span
    return abs(sideways) / span
