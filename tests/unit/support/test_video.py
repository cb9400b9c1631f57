"""The camera-input tooling: Y4M files Chromium plays, letterboxing, synthetic sequences."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from support import video

SAMPLES = Path(__file__).resolve().parents[3] / "samples" / "faces"
KIT = SAMPLES / "kit_harington/kit_harington_1.jpg"


def _solid(rgb: tuple[int, int, int], width: int = 8, height: int = 6) -> np.ndarray:
    return np.full((height, width, 3), rgb, dtype=np.uint8)


def _gradient(width: int = 64, height: int = 48) -> np.ndarray:
    """A smooth colour ramp: 4:2:0 subsampling barely changes it, so a round trip is close."""
    x = np.linspace(0, 255, width)[None, :]
    y = np.linspace(0, 255, height)[:, None]
    return np.stack(
        np.broadcast_arrays(x + 0 * y, y + 0 * x, (255 - x) * 0.5 + y * 0.5), axis=2
    ).astype(np.uint8)


# --- Y4M ----------------------------------------------------------------------------------


def test_y4m_header_and_exact_size(tmp_path: Path) -> None:
    frames = [_gradient(640, 480)] * 3

    path = video.write_y4m(frames, tmp_path / "camera.y4m", fps=30)

    data = path.read_bytes()
    header = b"YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420jpeg\n"
    assert data.startswith(header)
    assert len(data) == len(header) + 3 * (640 * 480 * 3 // 2 + 6)
    assert len(data) == video.y4m_size(640, 480, 3)
    frame_size = 640 * 480 * 3 // 2 + 6
    for index in range(3):
        start = len(header) + index * frame_size
        assert data[start : start + 6] == b"FRAME\n"


@pytest.mark.parametrize(("width", "height"), [(7, 6), (8, 5), (641, 480)])
def test_y4m_refuses_odd_sizes(tmp_path: Path, width: int, height: int) -> None:
    with pytest.raises(ValueError, match="even"):
        video.write_y4m([_solid((0, 0, 0), width, height)], tmp_path / "odd.y4m")


def test_y4m_refuses_mixed_sizes_no_frames_and_bad_rates(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not 8x6"):
        video.write_y4m([_solid((0, 0, 0)), _solid((0, 0, 0), 10, 6)], tmp_path / "a.y4m")
    with pytest.raises(ValueError, match="at least one"):
        video.write_y4m([], tmp_path / "b.y4m")
    with pytest.raises(ValueError, match="fps"):
        video.write_y4m([_solid((0, 0, 0))], tmp_path / "c.y4m", fps=0)
    with pytest.raises(ValueError, match="RGB uint8"):
        video.write_y4m([np.zeros((6, 8), dtype=np.uint8)], tmp_path / "d.y4m")


@pytest.mark.parametrize(
    ("rgb", "yuv"),
    [
        ((255, 255, 255), (235, 128, 128)),
        ((0, 0, 0), (16, 128, 128)),
        ((255, 0, 0), (81, 90, 240)),
        ((0, 255, 0), (145, 54, 34)),
        ((0, 0, 255), (41, 240, 110)),
    ],
    ids=["white", "black", "red", "green", "blue"],
)
def test_y4m_samples_are_limited_range_bt601(
    rgb: tuple[int, int, int], yuv: tuple[int, int, int]
) -> None:
    planes = video.to_yuv420(_solid(rgb))

    luma, u, v = planes[:48], planes[48:60], planes[60:]
    assert (len(luma), len(u), len(v)) == (48, 12, 12)
    # Exact BT.601 values; Pillow's integer conversion may land one step off.
    for plane, expected in ((luma, yuv[0]), (u, yuv[1]), (v, yuv[2])):
        assert len(set(plane)) == 1
        assert abs(plane[0] - expected) <= 1


def test_y4m_round_trip(tmp_path: Path) -> None:
    frames = [_gradient(), 255 - _gradient()]

    read, fps = video.read_y4m(video.write_y4m(frames, tmp_path / "ramp.y4m", fps=15))

    assert fps == 15
    assert len(read) == 2
    for original, back in zip(frames, read, strict=True):
        assert back.shape == original.shape
        assert np.abs(back.astype(int) - original.astype(int)).mean() < 3


# --- Framing and sequences ----------------------------------------------------------------


def test_letterbox_keeps_the_aspect_ratio_on_black() -> None:
    wide = _solid((255, 255, 255), width=200, height=100)

    framed = video.letterbox(wide)

    assert framed.shape == (480, 640, 3)
    assert framed.dtype == np.uint8
    rows = np.flatnonzero(framed[:, 320, 0] > 128)
    assert (rows[0], rows[-1]) == (80, 399)  # 640x320 in the middle, 80-px bars
    assert framed[:80].max() == 0
    assert framed[400:].max() == 0


def test_head_turn_frames_hold_then_move_progressively() -> None:
    frames = video.head_turn_frames(KIT, "left", 8, hold=2)

    assert len(frames) == 8
    assert all(f.shape == (video.HEIGHT, video.WIDTH, 3) for f in frames)
    assert np.array_equal(frames[0], frames[1])  # the frontal hold
    change = [np.abs(f.astype(int) - frames[0].astype(int)).mean() for f in frames]
    assert all(a < b for a, b in itertools.pairwise(change[1:]))
    right = video.head_turn_frames(KIT, "right", 8, hold=2)
    assert not np.array_equal(frames[-1], right[-1])


def test_flat_photo_frames_move_as_one_plane() -> None:
    frames = video.flat_photo_frames(KIT, 4, tilt_degrees=40)

    # Texture in the middle of the picture (the face), away from the frame's black borders.
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    mask = np.zeros_like(grey[0])
    mask[120:360, 200:440] = 255
    corners = cv2.goodFeaturesToTrack(grey[0], 200, 0.01, 8, mask=mask)
    moved, status, _ = cv2.calcOpticalFlowPyrLK(grey[0], grey[1], corners, None)
    good = status.ravel() == 1
    homography, inliers = cv2.findHomography(corners[good], moved[good], cv2.RANSAC, 1.0)
    assert homography is not None
    assert inliers.mean() > 0.9


def test_jpeg_frames_and_mirror() -> None:
    frame = _gradient(64, 48)

    (encoded,) = video.jpeg_frames([frame])
    (flipped,) = video.mirrored([frame])

    assert encoded[:2] == b"\xff\xd8"
    assert np.array_equal(flipped[:, 0], frame[:, -1])


# --- In Chromium --------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(video.find_chromium() is None, reason="Chromium is not installed")
def test_chromium_plays_the_file_in_true_colours(tmp_path: Path) -> None:
    colours = [(255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128), (0, 0, 0)]
    bars = np.zeros((480, 640, 3), dtype=np.uint8)
    for index, colour in enumerate(colours):
        bars[:, index * 100 : (index + 1) * 100] = colour
    path = video.write_y4m([bars, bars], tmp_path / "bars.y4m", fps=2)

    (seen,) = video.capture_fake_camera(path, count=1, interval_ms=0)

    assert seen.shape == (480, 640, 3)
    for index, colour in enumerate(colours):
        middle = seen[200:280, index * 100 + 30 : index * 100 + 70].reshape(-1, 3).mean(axis=0)
        assert np.abs(middle - colour).max() < 4, (colour, middle)
