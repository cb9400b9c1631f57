"""The only place that imports face_recognition and dlib, lazily: importing optin.faces stays cheap.

Detection is dlib's HOG detector. Large images are searched on a downscaled copy (detection time
grows with pixels, the encoder does not) and the boxes mapped back; landmarks and embeddings are
always computed on the full-resolution image.
"""

from __future__ import annotations

import functools
import threading
import warnings
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile

from optin.faces.images import RGBImage
from optin.faces.results import EMBEDDING_SIZE, Embedding, FaceBox

#: Longest side of the copy the detector sees. Measured on the fixtures: a 2333x1434 photo takes
#: 1.04 s at full size and 0.20 s at 1024; embeddings from the mapped boxes stay within 0.02-0.11
#: of the full-size ones (same-person distances reach 0.53, different people start at 0.70).
DETECTION_MAX_SIDE = 1024

#: dlib's HOG detector finds faces from about 80 px; one upsampling step brings that to about 40.
UPSAMPLE = 1

#: 68 (x, y) landmark points per face.
Landmarks = npt.NDArray[np.int64]

#: dlib's detector, shape predictor and encoder are not thread-safe: two enrollments at once in
#: one server process (``asyncio.to_thread``) corrupted its heap and killed the worker. One call at
#: a time per process; several workers still run in parallel.
_DLIB = threading.Lock()


@functools.cache
def _face_recognition() -> ModuleType:
    # face_recognition sets Pillow's global LOAD_TRUNCATED_IMAGES on import, which would make
    # truncated uploads decode as half-grey pictures; put the setting back.
    load_truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        with warnings.catch_warnings():
            # face_recognition_models still imports pkg_resources, which warns on import.
            warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
            warnings.simplefilter("ignore", DeprecationWarning)
            import face_recognition
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = load_truncated
    module: ModuleType = face_recognition
    return module


def warm_up() -> None:
    """Load the models now (about a second) instead of on the first image."""
    _face_recognition()


def detect(image: RGBImage, max_side: int = DETECTION_MAX_SIDE) -> list[FaceBox]:
    """Raw detector boxes in full-image pixels, not clamped: they may reach past the border."""
    fr = _face_recognition()
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    searched = image
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        searched = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
    with _DLIB:
        rects: Any = fr.api.face_detector(searched, UPSAMPLE)
    boxes = [FaceBox(r.top(), r.right(), r.bottom(), r.left()) for r in rects]
    return [box.scaled(1 / scale) for box in boxes] if scale < 1.0 else boxes


def landmarks(image: RGBImage, boxes: list[FaceBox]) -> list[Landmarks]:
    """The 68 landmark points of each face, as an array of (x, y) rows."""
    if not boxes:
        return []
    fr = _face_recognition()
    with _DLIB:
        found: list[dict[str, list[tuple[int, int]]]] = fr.face_landmarks(
            image, [box.as_css() for box in boxes], model="large"
        )
    # The feature lists share a few points (lip corners); duplicates do not matter for extremes.
    return [
        np.array([p for points in face.values() for p in points], dtype=np.int64) for face in found
    ]


def encode(image: RGBImage, boxes: list[FaceBox]) -> list[Embedding]:
    """One 128-d float64 embedding per box (boxes inside the image)."""
    if not boxes:
        return []
    fr = _face_recognition()
    with _DLIB:
        raw: list[npt.NDArray[Any]] = fr.face_encodings(
            image, [box.as_css() for box in boxes], num_jitters=1, model="small"
        )
    embeddings = []
    for vector in raw:
        embedding = np.asarray(vector, dtype=np.float64).reshape(EMBEDDING_SIZE)
        embedding.setflags(write=False)
        embeddings.append(embedding)
    return embeddings
