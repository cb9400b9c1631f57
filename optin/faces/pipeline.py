"""From an image to faces: detect, quality-check, encode; and the enrollment gate."""

from __future__ import annotations

from dataclasses import dataclass

from optin.config import FaceSettings
from optin.errors import FaceQualityRejected
from optin.faces import engine
from optin.faces.images import ImageSource, RGBImage, load_image
from optin.faces.quality import QualityThresholds, assess, describe
from optin.faces.results import DetectedFace, FaceBox, QualityReport

NO_FACE = "no-face"
SEVERAL_FACES = "several-faces"


@dataclass(frozen=True, slots=True)
class _Located:
    box: FaceBox
    quality: QualityReport


def analyse(image: ImageSource, settings: FaceSettings | None = None) -> list[DetectedFace]:
    """Every face in the image, each with its quality report; no face gives an empty list.

    Raises ImageRejected when the image cannot be read. Faces failing quality are still
    returned (``quality.passed`` is False): the caller decides what to do with them.
    """
    pixels = load_image(image, settings)
    located = _locate(pixels, settings)
    return _encode(pixels, located)


def single_face(image: ImageSource, settings: FaceSettings | None = None) -> DetectedFace:
    """The one face in the image, whatever its quality (for comparing two photos).

    Raises FaceQualityRejected with reason "no-face" or "several-faces".
    """
    pixels = load_image(image, settings)
    located = _locate(pixels, settings)
    _require_one(located)
    return _encode(pixels, located)[0]


def enrollment_template(image: ImageSource, settings: FaceSettings | None = None) -> DetectedFace:
    """The face to enroll: exactly one face in the picture, and it passes every quality check.

    Any second face, however small, rejects the photo: enrolling must never pick up a bystander.
    Raises FaceQualityRejected with ``reason`` "no-face", "several-faces" or the first failed
    quality check ("face-too-small", "face-cut-off", "face-blurry"); ImageRejected when the
    image cannot be read.
    """
    pixels = load_image(image, settings)
    located = _locate(pixels, settings)
    _require_one(located)
    quality = located[0].quality
    if not quality.passed:
        raise FaceQualityRejected(
            describe(quality.reasons), reason=quality.reasons[0], reasons=list(quality.reasons)
        )
    return _encode(pixels, located)[0]


def _locate(pixels: RGBImage, settings: FaceSettings | None) -> list[_Located]:
    thresholds = QualityThresholds.from_settings(settings or FaceSettings())
    height, width = pixels.shape[:2]
    raw_boxes = engine.detect(pixels)
    points = engine.landmarks(pixels, raw_boxes)
    return [
        _Located(box=raw.clamped(height, width), quality=assess(pixels, raw, pts, thresholds))
        for raw, pts in zip(raw_boxes, points, strict=True)
    ]


def _require_one(located: list[_Located]) -> None:
    if not located:
        raise FaceQualityRejected("no face found in the image", reason=NO_FACE)
    if len(located) > 1:
        raise FaceQualityRejected(
            f"{len(located)} faces found; the photo must show exactly one person",
            reason=SEVERAL_FACES,
        )


def _encode(pixels: RGBImage, located: list[_Located]) -> list[DetectedFace]:
    embeddings = engine.encode(pixels, [face.box for face in located])
    return [
        DetectedFace(box=face.box, embedding=embedding, quality=face.quality)
        for face, embedding in zip(located, embeddings, strict=True)
    ]
