"""Frame sequences for the liveness tests, built once per session (face work is slow).

Every sequence is JPEG-encoded as the enrollment page sends it. Directions are the person's own.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from face_photos import DATA
from PIL import Image

from support import video

KIT = DATA / "kit_harington/kit_harington_1.jpg"
ROSE = DATA / "rose_leslie/rose_leslie_1.jpg"
OBAMA = DATA / "obama/obama_small.jpg"
#: The same man, head turned to his own left (yaw about +0.19): a second photo of one person.
OBAMA_TURNED = DATA / "obama/obama_4.jpg"

#: The real clip in the shared fixtures (beside the project); absent in some checkouts.
CLIP = (
    Path(__file__).resolve().parents[3].parent
    / "shared/fixtures/faces/video/short_hamilton_clip.mp4"
)

FRAMES = 10


@functools.cache
def raw_turn(photo: Path, direction: video.Direction) -> tuple[np.ndarray, ...]:
    """A head turning 30 degrees after two frontal frames."""
    return tuple(video.head_turn_frames(photo, direction, FRAMES))


@functools.cache
def turn(photo: Path, direction: video.Direction) -> tuple[bytes, ...]:
    """The same, as the JPEG frames the page sends."""
    return tuple(video.jpeg_frames(raw_turn(photo, direction)))


@functools.cache
def still(photo: Path) -> tuple[bytes, ...]:
    return tuple(video.jpeg_frames(video.still_frames(photo, FRAMES)))


@functools.cache
def flat_photo(photo: Path) -> tuple[bytes, ...]:
    """A print of a frontal face, tilted 45 degrees, rolled, moved and brought closer."""
    frames = video.flat_photo_frames(photo, FRAMES, tilt_degrees=45, face_fraction=0.7)
    return tuple(video.jpeg_frames(frames))


@functools.cache
def photo_swap() -> tuple[bytes, ...]:
    """A frontal photo, then a photo of the same man with his head turned to his left."""
    frontal = video.selfie(OBAMA)
    turned = video.selfie(OBAMA_TURNED)
    return tuple(video.jpeg_frames([frontal] * 5 + [turned] * 5))


@functools.cache
def two_people() -> tuple[bytes, ...]:
    """Kit Harington starts, Rose Leslie finishes (the identity check comes before direction)."""
    return turn(KIT, "left")[:5] + turn(ROSE, "right")[5:]


@functools.cache
def no_face() -> tuple[bytes, ...]:
    """The lower part of a portrait (suit, flag, curtains) filling the camera frame."""
    with Image.open(DATA / "edge/obama_partial_face_1.jpg") as image:
        crop = np.asarray(image.convert("RGB").crop((0, 600, 491, 1137)))
    return tuple(video.jpeg_frames([video.letterbox(crop)] * FRAMES))
