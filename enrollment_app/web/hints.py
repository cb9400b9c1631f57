"""Live quality hints for the camera step: one small frame in, one short hint out.

The page sends a downscaled frame about once a second while the person lines up, and waits for
"ok" before it captures the liveness frames. The frame is decoded in memory, measured and
dropped; nothing about it is stored or logged, and the answer holds no coordinates, landmarks or
embeddings, only which hint to show. The judge of record stays ``optin.faces.liveness``: a hint
is advice, never a decision.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Final

from optin.config import FaceSettings
from optin.faces import engine, load_image
from optin.faces.liveness import DETECT_MAX_SIDE, FRONTAL_MAX, yaw_of
from optin.i18n import messages

#: A hint frame is small (the page sends at most 480 px wide); a photo-sized body is refused.
MAX_HINT_BYTES: Final = 2 * 1024 * 1024
MAX_HINT_PIXELS: Final = 1_000_000

#: Faces narrower than this share of the frame are asked to come closer: liveness finds faces
#: from about an eighth of the width, so a fifth leaves room for the head turn.
MIN_FACE_SHARE: Final = 0.2


class Hint(enum.StrEnum):
    OK = "ok"
    FACE_THE_CAMERA = "face-the-camera"
    ONE_FACE_ONLY = "one-face-only"
    MOVE_CLOSER = "move-closer"
    KEEP_IN_FRAME = "keep-in-frame"

    @property
    def msgid(self) -> str:
        return _MSGIDS[self]


_MSGIDS: Final = {
    Hint.OK: messages.HINT_OK,
    Hint.FACE_THE_CAMERA: messages.FACE_CAMERA,
    Hint.ONE_FACE_ONLY: messages.ONE_FACE_ONLY,
    Hint.MOVE_CLOSER: messages.MOVE_CLOSER,
    Hint.KEEP_IN_FRAME: messages.HINT_IN_FRAME,
}


def frame_hint(frame: bytes, settings: FaceSettings) -> tuple[Hint, int]:
    """The hint for one encoded frame, and how many faces it shows (blocking: run in a thread).

    Raises ImageRejected for a frame that is not a readable JPEG, PNG or WebP within the limits.
    """
    limits = dataclasses.replace(
        settings,
        max_image_bytes=min(settings.max_image_bytes, MAX_HINT_BYTES),
        max_image_pixels=min(settings.max_image_pixels, MAX_HINT_PIXELS),
    )
    pixels = load_image(frame, limits)
    height, width = pixels.shape[:2]
    boxes = engine.detect(pixels, max_side=DETECT_MAX_SIDE)
    if not boxes:
        return Hint.FACE_THE_CAMERA, 0
    if len(boxes) > 1:
        return Hint.ONE_FACE_ONLY, len(boxes)
    box = boxes[0]
    if box.width < max(settings.min_face_pixels, MIN_FACE_SHARE * width):
        return Hint.MOVE_CLOSER, 1
    if box.left < 0 or box.top < 0 or box.right > width or box.bottom > height:
        return Hint.KEEP_IN_FRAME, 1
    (points,) = engine.landmarks(pixels, boxes)
    yaw, _ = yaw_of(points)
    # The judge needs one roughly frontal frame before the turn; ask for it here.
    if abs(yaw) > FRONTAL_MAX:
        return Hint.FACE_THE_CAMERA, 1
    return Hint.OK, 1
