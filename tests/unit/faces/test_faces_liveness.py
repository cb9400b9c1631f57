"""Liveness: a head turning as asked passes; stills, flat pictures, swaps and two people fail.

Sequences come from tests/support/video.py (synthetic 2.5-D head turns of the sample photos)
and are cached per session; each judgement costs about a second.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
from liveness_support import (
    CLIP,
    KIT,
    OBAMA,
    ROSE,
    flat_photo,
    no_face,
    photo_swap,
    raw_turn,
    still,
    turn,
    two_people,
)

from optin import faces
from optin.errors import InvalidInput
from optin.faces import liveness
from optin.faces.liveness import Challenge, LivenessResult

from support import video

LEFT, RIGHT = Challenge.TURN_LEFT, Challenge.TURN_RIGHT


@pytest.fixture(scope="module")
def kit_left() -> LivenessResult:
    return liveness.judge(turn(KIT, "left"), LEFT)


# --- A person doing what was asked ---------------------------------------------------------


@pytest.mark.parametrize(
    ("photo", "direction", "challenge"),
    [(ROSE, "right", RIGHT), (OBAMA, "left", LEFT)],
    ids=["rose-right", "obama-left"],
)
def test_a_head_turning_as_asked_passes(
    photo: Path, direction: video.Direction, challenge: Challenge
) -> None:
    result = liveness.judge(turn(photo, direction), challenge)

    assert result.passed, result.as_dict()
    assert result.reason == "ok"
    assert result.turn is not None
    assert result.turn >= liveness.TURN_MIN
    assert result.relief is not None
    assert result.relief >= liveness.RELIEF_MIN


def test_turn_left_is_the_persons_own_left(kit_left: LivenessResult) -> None:
    # In unmirrored camera frames the nose of a person turning to their left moves to the
    # image's right: the yaw grows.
    assert kit_left.passed, kit_left.as_dict()
    yaws = [y for y in kit_left.yaw if y is not None]
    assert yaws[-1] - yaws[0] > liveness.TURN_MIN


def test_the_best_frame_is_a_frontal_one_and_makes_a_template(kit_left: LivenessResult) -> None:
    # The first two frames are the frontal hold; the turn starts at frame 2.
    assert kit_left.best_frame is not None
    best_yaw = kit_left.yaw[kit_left.frames.index(kit_left.best_frame)]
    assert best_yaw is not None
    assert abs(best_yaw) <= liveness.FRONTAL_MAX
    # The first straight-ahead frame: a later, half-turned frame can be closer to zero when a
    # person's straight pose is slightly off centre, and must not become the reference.
    earlier = kit_left.yaw[: kit_left.frames.index(kit_left.best_frame)]
    assert all(y is None or abs(y) > liveness.FRONTAL_MAX for y in earlier)
    assert kit_left.best_frame <= 2

    template = faces.enrollment_template(turn(KIT, "left")[kit_left.best_frame])
    reference = faces.enrollment_template(video.selfie(KIT))
    assert faces.face_distance(template.embedding, reference.embedding) < 0.2


def test_a_long_sequence_is_thinned_to_the_cap() -> None:
    # Face-less frames keep this cheap: the thinning happens before any face work.
    frames = (no_face() * 2)[:20]

    result = liveness.judge(frames, RIGHT)

    assert len(result.frames) == liveness.MAX_FRAMES
    assert result.frames[0] == 0
    assert result.frames[-1] == 19
    assert list(result.frames) == sorted(set(result.frames))
    assert len(result.yaw) == liveness.MAX_FRAMES


# --- Wrong action ---------------------------------------------------------------------------


def test_a_left_turn_fails_a_turn_right_challenge() -> None:
    result = liveness.judge(turn(KIT, "left"), RIGHT)

    assert not result.passed
    assert result.reason == "wrong-direction"
    assert result.turn_away is not None
    assert result.turn_away >= liveness.TURN_MIN


def test_a_mirrored_left_turn_reads_as_a_right_turn() -> None:
    # A page that sends its mirrored preview instead of the camera's frames flips the turn.
    frames = video.jpeg_frames(video.mirrored(list(raw_turn(KIT, "left"))))

    result = liveness.judge(frames, LEFT)

    assert result.reason == "wrong-direction", result.as_dict()


# --- Replays and tricks ---------------------------------------------------------------------


def test_the_same_picture_repeated_fails_with_no_movement() -> None:
    result = liveness.judge(still(KIT), LEFT)

    assert not result.passed
    assert result.reason == "no-movement"
    assert result.turn == 0.0
    assert result.best_frame is not None


def test_a_flat_picture_tilted_to_fake_a_turn_fails() -> None:
    # Tilting a print makes the landmark model read a turned head (the yaw moves past the
    # threshold), but the nose stays on the picture's plane.
    result = liveness.judge(flat_photo(KIT), LEFT)

    assert not result.passed
    assert result.reason == "flat-motion", result.as_dict()
    assert result.turn is not None
    assert result.turn >= liveness.TURN_MIN
    assert result.relief is not None
    assert abs(result.relief) < liveness.RELIEF_MIN


def test_a_frontal_photo_swapped_for_a_turned_one_fails() -> None:
    # Same man, turned enough, same place in the frame: only the broken tracks give it away.
    result = liveness.judge(photo_swap(), LEFT)

    assert not result.passed
    assert result.reason == "tracking-lost", result.as_dict()
    assert result.turn is not None
    assert result.turn >= liveness.TURN_MIN


def test_two_people_fail_with_different_people() -> None:
    result = liveness.judge(two_people(), LEFT)

    assert not result.passed
    assert result.reason == "different-people"
    assert result.max_distance is not None
    assert result.max_distance > faces.DEFAULT_THRESHOLD


# --- Unusable input -------------------------------------------------------------------------


def test_frames_without_a_face_fail_with_no_face() -> None:
    result = liveness.judge(no_face(), LEFT)

    assert result.reason == "no-face"
    assert result.best_frame is None
    assert set(result.yaw) == {None}


def test_too_few_frames_fail_before_any_face_work() -> None:
    # Not even decoded: four frames of junk are refused on their number alone.
    result = liveness.judge([b"junk"] * (liveness.MIN_FRAMES - 1), LEFT)

    assert result.reason == "too-few-frames"
    assert result.yaw == ()


def test_several_faces_in_a_frame_fail() -> None:
    group = faces.load_image(KIT.parents[1] / "group/kit_harington_and_rose_leslie.jpg")
    frames = video.jpeg_frames([video.letterbox(group)] * liveness.MIN_FRAMES)

    result = liveness.judge(frames, LEFT)

    assert result.reason == "several-faces"
    assert result.faces[0] == 2


def test_frames_of_different_sizes_are_invalid_input() -> None:
    first, second = turn(KIT, "left")[:2]
    small = video.jpeg_frames([video.letterbox(faces.load_image(second), 320, 240)])[0]

    with pytest.raises(InvalidInput, match="same size"):
        liveness.judge([first, small, first, first, first], LEFT)


def test_an_unknown_challenge_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        liveness.judge(turn(KIT, "left"), "blink")


# --- Pieces ---------------------------------------------------------------------------------


def test_challenges_are_random_and_named() -> None:
    rng = random.Random(7)
    seen = {liveness.issue_challenge(rng) for _ in range(50)}
    assert seen == {LEFT, RIGHT}
    assert isinstance(liveness.issue_challenge(), Challenge)
    assert Challenge("turn-left") is LEFT
    assert "left" in LEFT.instruction
    assert "right" in RIGHT.instruction


def _face(nose_x: float, roll_degrees: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """48 landmark rows: eyes centred at (-1, 0) and (1, 0), the nose tip at (nose_x, 1)."""
    points = np.zeros((68, 2))
    points[36:42] = (-1.0, 0.0)
    points[42:48] = (1.0, 0.0)
    points[30] = (nose_x, 1.0)
    angle = math.radians(roll_degrees)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return np.rint(100 * scale * points @ rotation.T + 300).astype(np.int64)


def test_the_yaw_proxy_ignores_roll_position_and_scale() -> None:
    frontal, _ = liveness.yaw_of(_face(0.0))
    turned, distance = liveness.yaw_of(_face(0.4))
    rolled, _ = liveness.yaw_of(_face(0.4, roll_degrees=25, scale=0.5))

    assert frontal == 0.0
    assert turned == pytest.approx(0.2)  # 0.4 of half the eye distance = 0.2 of it
    assert distance == pytest.approx(200)
    assert rolled == pytest.approx(0.2, abs=0.01)
    assert liveness.yaw_of(_face(-0.4))[0] == pytest.approx(-0.2)


def test_the_result_is_json_without_biometric_data(kit_left: LivenessResult) -> None:
    data = kit_left.as_dict()

    assert json.loads(json.dumps(data)) == data
    assert data["challenge"] == "turn-left"
    assert data["reason"] == "ok"
    assert len(data["yaw"]) == len(data["frames"])
    assert not {"embedding", "landmarks", "points", "nose"} & set(data)


# --- Through Chromium's camera, and a real video ------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(video.find_chromium() is None, reason="Chromium is not installed")
def test_a_head_turn_played_through_chromiums_camera_passes(tmp_path: Path) -> None:
    # What the enrollment page will do: getUserMedia, a canvas snapshot every 250 ms.
    path = video.write_head_turn_y4m(KIT, "left", tmp_path / "left.y4m")
    frames = video.capture_fake_camera(path, count=10, interval_ms=250)

    result = liveness.judge(video.jpeg_frames(frames), LEFT)

    assert result.passed, result.as_dict()


# A measurement more than a requirement: the shared fixtures may be absent.


@pytest.mark.skipif(not CLIP.is_file(), reason="the shared fixture video is not beside the project")
def test_a_real_head_turn_in_the_fixture_clip() -> None:
    import cv2

    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    try:
        while len(frames) < 208:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    # Frames 174-207, 0.1 s apart: Lin-Manuel Miranda looks at the camera, then turns to his
    # own right.
    window = frames[174:208:3]

    right = liveness.judge(window, RIGHT)
    left = liveness.judge(window, LEFT)

    assert right.reason == "ok", right.as_dict()
    assert left.reason == "wrong-direction"
