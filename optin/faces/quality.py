"""Quality checks on one detected face: size, cut off at the border, blur.

Thresholds come from measurements on the face fixtures (HOG boxes, 68 landmarks):
- size: the smallest single-identity fixture face is 62 px wide (a 427x240 frame) and still
  matches the other photos of the same person, so FaceSettings.min_face_pixels is 60;
- border: the 19 single-identity photos keep 0.33 to 0.97 face widths between the face (box or
  landmarks) and the nearest edge; the two partial-face photos score -0.23 and -0.19 (the
  detector box sticks out of the image, landmarks fall outside). 0.05 rejects a face touching
  the edge;
- blur: the sharp photos score 122 to 920; Gaussian blur with a sigma of 2 % of the face width
  scores 6 to 16 and moves the embedding by 0.31 to 0.40 from the sharp one; 1.5 % scores 13 to 42
  (drift 0.21 to 0.34). 30 sits between, keeping a fourfold margin below the softest real photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from optin.config import FaceSettings
from optin.faces.images import RGBImage
from optin.faces.results import FaceBox, QualityReport

TOO_SMALL = "face-too-small"
CUT_OFF = "face-cut-off"
BLURRY = "face-blurry"

MESSAGES = {
    TOO_SMALL: "the face is too small; come closer to the camera",
    CUT_OFF: "the face is cut off at the image border; centre the face in the picture",
    BLURRY: "the face is too blurred; hold still and make sure the picture is in focus",
}

#: The face crop is resized to this square before measuring blur, so the score does not depend
#: on the face's size in pixels.
BLUR_CROP = 100


@dataclass(frozen=True, slots=True)
class QualityThresholds:
    min_face_pixels: int = FaceSettings.min_face_pixels
    min_border_margin: float = 0.05
    min_blur: float = 30.0

    @classmethod
    def from_settings(cls, settings: FaceSettings) -> QualityThresholds:
        return cls(min_face_pixels=settings.min_face_pixels)


def assess(
    image: RGBImage,
    raw_box: FaceBox,
    points: npt.NDArray[np.int64],
    thresholds: QualityThresholds,
) -> QualityReport:
    """Judge one face from its raw (unclamped) detector box and its 68 landmarks."""
    height, width = image.shape[:2]
    margin = border_margin(raw_box, points, height, width)
    blur = blur_score(image, raw_box.clamped(height, width))
    reasons = []
    if min(raw_box.width, raw_box.height) < thresholds.min_face_pixels:
        reasons.append(TOO_SMALL)
    if margin < thresholds.min_border_margin:
        reasons.append(CUT_OFF)
    if blur < thresholds.min_blur:
        reasons.append(BLURRY)
    return QualityReport(
        face_width=raw_box.width,
        face_height=raw_box.height,
        blur=blur,
        border_margin=margin,
        reasons=tuple(reasons),
    )


def border_margin(box: FaceBox, points: npt.NDArray[np.int64], height: int, width: int) -> float:
    """Smallest gap between the face and an image edge, in face widths; negative = cut off.

    Both signals are needed: when a face is cut, dlib's box reaches past the edge, and the shape
    model places some landmarks outside the image.
    """
    gaps = [box.top, box.left, width - box.right, height - box.bottom]
    if len(points):
        xs, ys = points[:, 0], points[:, 1]
        gaps += [
            int(xs.min()),
            int(ys.min()),
            width - 1 - int(xs.max()),
            height - 1 - int(ys.max()),
        ]
    return min(gaps) / max(box.width, 1)


def blur_score(image: RGBImage, box: FaceBox) -> float:
    """Variance of the 4-neighbour Laplacian over the grey face crop: low means blurred."""
    crop = image[box.top : box.bottom, box.left : box.right]
    if crop.size == 0:
        return 0.0
    grey = (
        Image.fromarray(crop).convert("L").resize((BLUR_CROP, BLUR_CROP), Image.Resampling.BILINEAR)
    )
    g = np.asarray(grey, dtype=np.float64)
    laplacian = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(laplacian.var())


def describe(reasons: tuple[str, ...] | list[str]) -> str:
    """A human sentence for a list of reason codes."""
    return "; ".join(MESSAGES.get(reason, reason) for reason in reasons)
