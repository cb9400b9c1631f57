"""Liveness: was a live person turning their head in front of the camera, or a replayed picture?

The enrollment page asks for a challenge (``issue_challenge``), tells the person to turn their
head slowly to one side, captures a few frames at a fixed interval and sends them; ``judge``
decides and names the most frontal frame, which the caller turns into the template with
``enrollment_template`` (it runs the quality gate). Frames are decoded in memory and never
written anywhere; the result holds measurements only, never pixels, landmarks or embeddings.

Directions. ``turn-left`` means the person's *own* left. Frames must be the camera's picture as
captured (``getUserMedia`` frames drawn on a canvas are not mirrored, whatever the preview's CSS
does); there, a person turning to their left moves their nose towards the image's *right*
(larger x). A mirrored frame sequence therefore reads as the opposite turn and fails with
``wrong-direction``.

What is judged, in this order (the first failing check gives the reason):

1. ``too-few-frames``: fewer than ``MIN_FRAMES`` frames. More than ``MAX_FRAMES`` are thinned
   evenly (first and last kept), so the cost stays bounded.
2. ``several-faces``: a frame shows more than one face (a bystander, or a photo held up).
3. ``no-face``: fewer than ``MIN_FACE_FRAMES`` frames show a face of at least
   ``min_face_pixels``.
4. ``different-people``: a face is farther than the match threshold from the most frontal one,
   so the frontal frame (the future template) and the turn cannot come from two people.
5. ``not-frontal``: no frame looks roughly straight at the camera.
6. ``wrong-direction`` / ``no-movement``: the yaw must move from the frontal frame by at least
   ``TURN_MIN`` in the requested direction and less than that the other way.
7. ``tracking-lost`` / ``flat-motion``: the face's texture is tracked (Lucas-Kanade, kept
   only where the backward track returns within a pixel) from the frontal frame through every
   frame towards the turned ones, and a homography is fitted to the tracks off the nose. A flat
   picture (a print, a screen) moves as one homography whatever is done with it, so its nose
   stays on the fitted plane; on a head the nose sticks out and moves further, in the direction
   of the turn. The nose tracks' median offset from the plane, along the eye line, in eye
   distances, is the *relief*; under ``RELIEF_MIN`` gives ``flat-motion``. Too few tracks
   surviving (``MIN_TRACKS``, ``MIN_NOSE_TRACKS``, ``MIN_TRACKED_SHARE``), as when one photo is
   swapped for another, gives ``tracking-lost``. The farthest turned frame still tracked counts.

Yaw proxy: the nose tip's offset from the midpoint of the two eye centres, along the eye line,
divided by the distance between the eye centres (roll, scale and position drop out). 0 is
frontal; positive means the nose points to the image's right.

Thresholds, measured (face_recognition 1.3 / dlib 20) on synthetic sequences from
``tests/support/video.py`` (four sample photos framed at 640x480 with the face 40 % or 70 % of
the width, 10 frames, JPEG quality 85; 200 judgements) and on the real fixture clip (Lin-Manuel
Miranda singing, 640x360, windows of 12 frames 0.1 s apart):

- frontal: frontal sample photos score -0.06 to +0.07 and the clip's frontal frames -0.02 to
  +0.04; portraits with the head visibly turned 0.13 to 0.30. ``FRONTAL_MAX`` = 0.10;
- turn: synthetic turns move the yaw by 0.07-0.15 at 15 degrees (8 of 16 pass), 0.20-0.31
  at 30 degrees (16 of 16) and 0.28-0.45 at 45 (13 of 16); the clip's one-way turns by 0.13
  to 0.42; the same frame repeated by 0; a nearly still head in the clip drifts by 0.02-0.06.
  ``TURN_MIN`` = 0.12;
- relief: a flat picture tilted up to 60 degrees about its vertical axis, rolled 10 degrees,
  moved and brought closer (which the landmark model reads as a yaw change of up to 0.29, so
  the yaw alone is fooled) scores -0.003 to +0.009 in the 28 of 128 such sequences that get
  this far (the others fail earlier); synthetic turns score 0.07-0.09 at 15 degrees and
  0.13-0.19 at 30; the clip's turns 0.05 to 0.25. ``RELIEF_MIN`` = 0.03;
- tracks: synthetic turns keep 171-300 of 175-300 points (20-42 on the nose), the clip's
  turns 30-81 of 103-117 (5-19 on the nose); a frontal photo swapped for a turned photo of the
  same man keeps 1-13 of 300. ``MIN_TRACKED_SHARE`` = 0.25, ``MIN_TRACKS`` = 12,
  ``MIN_NOSE_TRACKS`` = 5;
- identity: synthetic turns stay within 0.31-0.46 of their frontal frame at 30 degrees (0.45-0.79
  at 45, where the warp itself distorts the face); in the clip, where even two frontal frames
  differ by 0.22-0.57 (small faces, stage light), within 0.59; two people differ by 0.81-0.86.
  The match threshold (``FaceSettings.match_threshold``, 0.6) applies.

Cost: frames are worked on at most ``WORK_MAX_SIDE`` pixels wide and searched for faces at
``DETECT_MAX_SIDE`` (so faces narrower than about 80 px in a 640-px frame are not found;
selfies show 150-300 px). A 10-frame judgement takes 0.5-1.8 s (median 1.15 s) on a 2-core
machine: about 0.1 s per frame, mostly the 128-d encoding of every face.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import random
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from optin.config import FaceSettings
from optin.errors import InvalidInput
from optin.faces import engine
from optin.faces.compare import face_distance
from optin.faces.images import ImageSource, RGBImage, load_image
from optin.faces.pipeline import NO_FACE, SEVERAL_FACES
from optin.faces.results import Embedding, FaceBox

OK = "ok"
TOO_FEW_FRAMES = "too-few-frames"
DIFFERENT_PEOPLE = "different-people"
NOT_FRONTAL = "not-frontal"
NO_MOVEMENT = "no-movement"
WRONG_DIRECTION = "wrong-direction"
TRACKING_LOST = "tracking-lost"
FLAT_MOTION = "flat-motion"

MESSAGES = {
    OK: "liveness confirmed",
    TOO_FEW_FRAMES: "too few frames were captured; please try again",
    SEVERAL_FACES: "more than one face is visible; make sure you are alone in the picture",
    NO_FACE: "no face was found; hold the phone in front of your face, in good light",
    DIFFERENT_PEOPLE: "the frames do not show the same person throughout",
    NOT_FRONTAL: "look straight at the camera before you turn your head",
    NO_MOVEMENT: "no head turn was seen; turn your head slowly to the side you were asked",
    WRONG_DIRECTION: "the head turned the wrong way; turn only to the side you were asked",
    TRACKING_LOST: "the face could not be followed; hold the phone still and turn slowly",
    FLAT_MOTION: "the face moved like a flat picture; turn your own head, not the phone",
}

MIN_FRAMES = 5
MAX_FRAMES = 12
MIN_FACE_FRAMES = 3
FRONTAL_MAX = 0.10
TURN_MIN = 0.12
RELIEF_MIN = 0.03
MIN_TRACKS = 12
MIN_NOSE_TRACKS = 5
MIN_TRACKED_SHARE = 0.25

#: Frames wider or taller than this are shrunk first: the thresholds are ratios, so resolution
#: above a selfie's only costs time.
WORK_MAX_SIDE = 640
#: The detector searches a copy this large (with one upsampling step: faces from about 40 px).
DETECT_MAX_SIDE = 320
#: A frame is refused before decoding above this many pixels (4 Mpx holds a 2560x1440 camera);
#: the general image limit is meant for one photo, not a dozen frames.
MAX_FRAME_PIXELS = 4_000_000

# Indices of the iBUG 68-point layout. engine.landmarks concatenates face_recognition's feature
# lists, whose first 48 rows are points 0-47 in order (chin, brows, nose, eyes); the lips after
# them repeat points, so nothing past 47 is used.
_NOSE_TIP = 30
_NOSE = slice(27, 36)
_EYE_A = slice(36, 42)
_EYE_B = slice(42, 48)
_LANDMARKS_USED = 48

# Lucas-Kanade settings: a 21-px window over 4 pyramid levels follows moves of ~80 px per step.
_LK_WINDOW = (21, 21)
_LK_LEVELS = 3
_LK_MAX_BACKTRACK = 1.0  # px: a track must come back to where it started
_MAX_CORNERS = 300
_NOSE_MARGIN = 0.1  # eye distances around the nose landmarks


class Challenge(enum.StrEnum):
    """The action asked of the person; directions are the person's own (see the module doc)."""

    TURN_LEFT = "turn-left"
    TURN_RIGHT = "turn-right"

    @property
    def instruction(self) -> str:
        side = "left" if self is Challenge.TURN_LEFT else "right"
        return f"Look at the camera, then turn your head slowly to your {side}"

    @property
    def sign(self) -> int:
        """+1 when the nose should move towards the image's right (unmirrored frames)."""
        return 1 if self is Challenge.TURN_LEFT else -1


def issue_challenge(rng: random.Random | None = None) -> Challenge:
    """A random challenge, from the system CSPRNG unless ``rng`` is given (tests): a recording of
    one prepared turn then fits only every other request."""
    chooser = rng if rng is not None else secrets.SystemRandom()
    return chooser.choice(list(Challenge))


@dataclass(frozen=True, slots=True)
class LivenessResult:
    """The verdict, and what it was based on (no pixels, landmarks or embeddings).

    ``frames`` are the indices (into the caller's sequence) of the frames judged; ``faces`` and
    ``yaw`` follow the frames measured, in that order (judging stops at a frame with several
    faces); ``yaw`` is None where no usable face was found. ``best_frame`` indexes the caller's
    sequence: the most frontal face, the one to make the template from. The other measurements
    are None when judging stopped before them. ``relief`` is signed: positive in the requested
    direction.
    """

    passed: bool
    reason: str
    message: str
    challenge: Challenge
    frames: tuple[int, ...]
    faces: tuple[int, ...] = ()
    yaw: tuple[float | None, ...] = ()
    best_frame: int | None = None
    max_distance: float | None = None
    turn: float | None = None
    turn_away: float | None = None
    corners: int | None = None
    tracked: int | None = None
    nose_tracks: int | None = None
    relief_frame: int | None = None
    relief: float | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, rounded to 3 decimals (for logs and the API's debug output)."""
        data: dict[str, Any] = {}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, float):
                value = round(value, 3)
            elif isinstance(value, tuple):
                value = [round(v, 3) if isinstance(v, float) else v for v in value]
            data[item.name] = value
        data["challenge"] = str(self.challenge)
        return data


@dataclass(slots=True)
class _Frame:
    """What judging needs of one frame; lives only during ``judge``."""

    grey: npt.NDArray[np.uint8]
    faces: int = 0
    box: FaceBox | None = None
    yaw: float | None = None
    eye_distance: float = 0.0
    across: npt.NDArray[np.float64] | None = None  # unit vector along the eye line
    nose: npt.NDArray[np.float64] | None = None  # landmarks 27-35
    embedding: Embedding | None = None


def judge(
    frames: Sequence[ImageSource],
    challenge: Challenge | str,
    settings: FaceSettings | None = None,
) -> LivenessResult:
    """Judge a captured sequence against its challenge (see the module doc for the rules).

    ``frames`` are RGB arrays or encoded images (JPEG, PNG or WebP bytes), in capture order, all
    the same size. Raises InvalidInput for an unknown challenge or frames of different sizes and
    ImageRejected for a frame that cannot be decoded; every other outcome is a LivenessResult.
    """
    started = time.perf_counter()
    settings = settings or FaceSettings()
    try:
        challenge = Challenge(challenge)
    except ValueError:
        raise InvalidInput(f"unknown liveness challenge {challenge!r}") from None
    picked = _pick(len(frames))
    judged: list[_Frame] = []
    measured: dict[str, Any] = {}

    def verdict(reason: str) -> LivenessResult:
        return LivenessResult(
            passed=reason == OK,
            reason=reason,
            message=MESSAGES[reason],
            challenge=challenge,
            frames=tuple(picked),
            faces=tuple(f.faces for f in judged),
            yaw=tuple(f.yaw for f in judged),
            seconds=time.perf_counter() - started,
            **measured,
        )

    if len(frames) < MIN_FRAMES:
        return verdict(TOO_FEW_FRAMES)

    # One photo may be large; a dozen frames may not.
    frame_settings = dataclasses.replace(
        settings, max_image_pixels=min(settings.max_image_pixels, MAX_FRAME_PIXELS)
    )
    for index in picked:
        pixels = _working_copy(load_image(frames[index], frame_settings))
        if judged and pixels.shape[:2] != judged[0].grey.shape:
            raise InvalidInput("the frames must all have the same size")
        judged.append(_measure(pixels, settings))
        if judged[-1].faces > 1:
            return verdict(SEVERAL_FACES)

    with_face = [i for i, f in enumerate(judged) if f.yaw is not None]
    if len(with_face) < MIN_FACE_FRAMES:
        return verdict(NO_FACE)

    # The reference for identity, movement and the template: the first frame looking roughly
    # straight ahead (the person looks straight, then turns). Taking the most frontal frame
    # overall would pick a half-turned frame when someone's straight pose is slightly off
    # centre, and their real straight frames would then read as a turn the wrong way.
    yaws = {i: _known(judged[i].yaw) for i in with_face}
    frontal = [i for i in with_face if abs(yaws[i]) <= FRONTAL_MAX]
    best = frontal[0] if frontal else min(with_face, key=lambda i: abs(yaws[i]))
    measured["best_frame"] = picked[best]
    reference = _known(judged[best].embedding)
    measured["max_distance"] = max(
        face_distance(reference, _known(judged[i].embedding)) for i in with_face
    )
    if measured["max_distance"] > settings.match_threshold:
        return verdict(DIFFERENT_PEOPLE)
    if abs(yaws[best]) > FRONTAL_MAX:
        return verdict(NOT_FRONTAL)

    # The turn from the frontal frame, positive in the requested direction.
    turns = {i: (yaws[i] - yaws[best]) * challenge.sign for i in with_face}
    peak = max(with_face, key=lambda i: turns[i])
    measured["turn"] = turns[peak]
    measured["turn_away"] = max(0.0, -min(turns.values()))
    if measured["turn_away"] >= TURN_MIN:
        return verdict(WRONG_DIRECTION)
    if measured["turn"] < TURN_MIN:
        return verdict(NO_MOVEMENT)

    # Frames on the peak's side of the frontal one that turned far enough.
    side = range(peak, best) if peak < best else range(best + 1, peak + 1)
    turned = sorted(i for i in side if i in turns and turns[i] >= TURN_MIN)
    found = _relief(judged, best, turned)
    measured.update(corners=found.corners, tracked=found.tracked, nose_tracks=found.nose_tracks)
    if found.frame is None:
        return verdict(TRACKING_LOST)
    measured["relief_frame"] = picked[found.frame]
    measured["relief"] = found.relief * challenge.sign
    if measured["relief"] < RELIEF_MIN:
        return verdict(FLAT_MOTION)
    return verdict(OK)


def yaw_of(points: npt.NDArray[np.int64]) -> tuple[float, float]:
    """The yaw proxy and the eye distance (px) of one face's landmarks (see the module doc)."""
    if len(points) < _LANDMARKS_USED:
        raise InvalidInput(f"expected the 68-point landmarks, got {len(points)} points")
    pts = points.astype(np.float64)
    eye_a = pts[_EYE_A].mean(axis=0)
    eye_b = pts[_EYE_B].mean(axis=0)
    across = eye_b - eye_a
    eye_distance = float(np.hypot(*across))
    if eye_distance == 0.0:
        return 0.0, 0.0
    offset = pts[_NOSE_TIP] - (eye_a + eye_b) / 2
    return float(offset @ across) / eye_distance**2, eye_distance


def _pick(count: int) -> list[int]:
    """Indices of the frames judged: all of them, or MAX_FRAMES spread evenly."""
    if count <= MAX_FRAMES:
        return list(range(count))
    return sorted({round(k * (count - 1) / (MAX_FRAMES - 1)) for k in range(MAX_FRAMES)})


def _working_copy(pixels: RGBImage) -> RGBImage:
    height, width = pixels.shape[:2]
    scale = WORK_MAX_SIDE / max(height, width)
    if scale >= 1.0:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.ascontiguousarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA))


def _measure(pixels: RGBImage, settings: FaceSettings) -> _Frame:
    height, width = pixels.shape[:2]
    frame = _Frame(grey=np.asarray(cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), dtype=np.uint8))
    boxes = engine.detect(pixels, max_side=DETECT_MAX_SIDE)
    frame.faces = len(boxes)
    if len(boxes) != 1 or boxes[0].width < settings.min_face_pixels:
        return frame
    (points,) = engine.landmarks(pixels, boxes)
    yaw, eye_distance = yaw_of(points)
    if eye_distance == 0.0:
        return frame
    box = boxes[0].clamped(height, width)
    (frame.embedding,) = engine.encode(pixels, [box])
    pts = points.astype(np.float64)
    frame.box, frame.yaw, frame.eye_distance = box, yaw, eye_distance
    frame.across = (pts[_EYE_B].mean(axis=0) - pts[_EYE_A].mean(axis=0)) / eye_distance
    frame.nose = pts[_NOSE]
    return frame


_T = TypeVar("_T")


def _known(value: _T | None) -> _T:
    """A field that is set on every frame with a face."""
    assert value is not None
    return value


@dataclass(frozen=True, slots=True)
class _Relief:
    corners: int  # points found on the frontal face
    tracked: int = 0  # of them, followed to ``frame``
    nose_tracks: int = 0  # of those, on the nose
    frame: int | None = None  # where the relief was measured (None: tracking was lost)
    relief: float = 0.0  # towards the image's right, in eye distances


def _relief(judged: list[_Frame], start: int, turned: list[int]) -> _Relief:
    """How far the nose moved past the rest of the face, from ``start`` to a turned frame.

    The face's texture is tracked frame by frame from ``start`` towards the frames in
    ``turned`` (Lucas-Kanade, forward and backward, dropping tracks that do not come back). At
    each turned frame a homography is fitted to the tracks off the nose; the nose tracks' median
    offset from where it puts them, along the eye line, in eye distances, is the relief. A flat
    picture moves as one homography, so its nose stays on the fitted plane. The farthest turned
    frame that still has enough tracks counts: a nose turned far loses its texture, while the
    frames on the way there still show the relief.
    """
    first = judged[start]
    assert first.box is not None
    assert first.nose is not None
    box = first.box
    mask = np.zeros_like(first.grey)
    mask[box.top : box.bottom, box.left : box.right] = 255
    corners = cv2.goodFeaturesToTrack(
        first.grey,
        maxCorners=_MAX_CORNERS,
        qualityLevel=0.005,
        minDistance=max(3.0, first.eye_distance / 15),
        mask=mask,
        blockSize=5,
    )
    if corners is None:
        return _Relief(corners=0)
    origin = np.asarray(corners, dtype=np.float32).reshape(-1, 1, 2)
    start_points = origin.reshape(-1, 2)
    margin = _NOSE_MARGIN * first.eye_distance  # the nose: around points 27-35
    low, high = first.nose.min(axis=0) - margin, first.nose.max(axis=0) + margin
    on_nose = np.all((start_points >= low) & (start_points <= high), axis=1)
    enough = max(MIN_TRACKS, math.ceil(MIN_TRACKED_SHARE * len(origin)))

    found: _Relief | None = None
    lost = _Relief(corners=len(origin))
    current, alive = origin.copy(), np.ones(len(origin), dtype=bool)
    step, farthest = (1, max(turned)) if turned[0] > start else (-1, min(turned))
    for index in range(start + step, farthest + step, step):
        current, followed = _follow(judged[index - step].grey, judged[index].grey, current)
        alive &= followed
        nose, rest = alive & on_nose, alive & ~on_nose
        tracked, nose_tracks = int(alive.sum()), int(nose.sum())
        lost = _Relief(corners=len(origin), tracked=tracked, nose_tracks=nose_tracks)
        if tracked < enough or tracked - nose_tracks < MIN_TRACKS or nose_tracks < MIN_NOSE_TRACKS:
            break  # tracks only ever get lost
        if index not in turned:
            continue
        last = judged[index]
        assert last.across is not None
        points = current.reshape(-1, 2)
        homography, _ = cv2.findHomography(start_points[rest], points[rest], 0)
        if homography is None:
            continue
        fitted = cv2.perspectiveTransform(start_points[nose][None], homography)[0]
        along = (points[nose] - fitted) @ last.across / last.eye_distance
        found = dataclasses.replace(lost, frame=index, relief=float(np.median(along)))
    return found or lost


def _follow(
    before: npt.NDArray[np.uint8], after: npt.NDArray[np.uint8], points: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Points (N x 1 x 2) moved from ``before`` to ``after``, and which of them are trustworthy:
    found both ways, and tracked back to within ``_LK_MAX_BACKTRACK`` of where they started."""
    options: dict[str, Any] = {"winSize": _LK_WINDOW, "maxLevel": _LK_LEVELS}
    ahead_raw, found, _ = cv2.calcOpticalFlowPyrLK(before, after, points, points.copy(), **options)
    ahead = np.asarray(ahead_raw, dtype=np.float32)
    back, found_back, _ = cv2.calcOpticalFlowPyrLK(after, before, ahead, ahead.copy(), **options)
    backtrack = np.linalg.norm((np.asarray(back) - points).reshape(-1, 2), axis=1)
    followed = (
        (np.asarray(found).ravel() == 1)
        & (np.asarray(found_back).ravel() == 1)
        & (backtrack < _LK_MAX_BACKTRACK)
    )
    return ahead, followed
