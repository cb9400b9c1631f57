"""Camera input for tests: Y4M files for Chromium's fake camera, and synthetic face sequences.

Chromium plays ``--use-file-for-fake-video-capture=<file>.y4m`` as its camera. ``write_y4m``
writes what it accepts: ``YUV4MPEG2 W<w> H<h> F<fps>:1 Ip A1:1 C420jpeg``, then per frame
``FRAME\\n`` and the 8-bit Y, U and V planes (4:2:0, no padding, even sizes), in the limited
BT.601 range Chromium assumes. Measured with ``capture_fake_camera`` (getUserMedia, then canvas
snapshots, as the enrollment page does): colours come back within 2 levels; the file loops at
its frame rate; a getUserMedia in a fresh browser starts at the top of the file, but the first
picture a page can draw is the file's *second* frame (at 1 and 2 fps: frames 1, 2, 3, 0, 1,
...), so start a sequence with at least two identical frames (``write_head_turn_y4m`` holds 0.5 s).

The sequences stand in for a person in front of a phone (``head_turn_frames``) and for the
attacks liveness must refuse: the same picture repeated (``still_frames``) and a flat picture
waved, tilted and rolled in front of the camera (``flat_photo_frames``). ``selfie`` frames a
sample photo as a phone would, ``jpeg_frames`` encodes frames as the page sends them and
``mirrored`` flips them as a mirrored preview shows them. Directions are the person's own, in
unmirrored camera frames: turning to their left moves their nose towards the image's right.

The head turn is a 2.5-D warp: the face is given a depth (a rounded head plus a nose) and every
pixel moves sideways by ``depth * sin(angle)``, so the nose slides over the cheeks as it would
on a real head. A plain perspective warp would not do: it moves a photo as a plane, and the
liveness judge refuses exactly that.
"""

from __future__ import annotations

import base64
import io
import math
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from optin.faces import engine, load_image
from optin.faces.images import ImageSource

Frame = npt.NDArray[np.uint8]
Direction = Literal["left", "right"]

WIDTH, HEIGHT = 640, 480
FRAME_HEADER = b"FRAME\n"

#: A phone's front camera sees about 65 degrees across: the focal length in pixels of a
#: 640-px frame, for the perspective of a flat picture held in front of it.
FOCAL_PX = 500.0


# --- Y4M ----------------------------------------------------------------------------------


def y4m_header(width: int, height: int, fps: int = 30) -> bytes:
    return f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii")


def y4m_size(width: int, height: int, frames: int, fps: int = 30) -> int:
    """Exact size of a Y4M file: header + frames x (FRAME line + Y + U + V)."""
    return len(y4m_header(width, height, fps)) + frames * (
        len(FRAME_HEADER) + width * height * 3 // 2
    )


def to_yuv420(frame: Frame) -> bytes:
    """One RGB frame as limited-range BT.601 Y, U and V planes (chroma averaged over 2x2)."""
    height, width = _checked(frame)
    ycbcr = np.asarray(Image.fromarray(frame, "RGB").convert("YCbCr"), dtype=np.float64)
    luma = 16.0 + ycbcr[:, :, 0] * (219.0 / 255.0)
    chroma = 128.0 + (ycbcr[:, :, 1:] - 128.0) * (224.0 / 255.0)
    # C420jpeg sites chroma between the four luma samples: the 2x2 mean.
    chroma = chroma.reshape(height // 2, 2, width // 2, 2, 2).mean(axis=(1, 3))
    planes = [luma, chroma[:, :, 0], chroma[:, :, 1]]
    return b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_y4m(frames: Sequence[Frame], path: str | Path, fps: int = 30) -> Path:
    """Write RGB frames (all the same even size) as a Y4M file Chromium plays as its camera."""
    if not frames:
        raise ValueError("a Y4M file needs at least one frame")
    if not isinstance(fps, int) or fps <= 0:
        raise ValueError(f"fps must be a positive integer, got {fps!r}")
    height, width = _checked(frames[0])
    for index, frame in enumerate(frames):  # all checked first: no half-written file
        if _checked(frame) != (height, width):
            raise ValueError(
                f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, not {width}x{height}"
            )
    target = Path(path)
    with target.open("wb") as out:
        out.write(y4m_header(width, height, fps))
        for frame in frames:
            out.write(FRAME_HEADER)
            out.write(to_yuv420(frame))
    return target


def read_y4m(path: str | Path) -> tuple[list[Frame], int]:
    """Frames (RGB, converted back) and the frame rate of a file ``write_y4m`` wrote."""
    data = Path(path).read_bytes()
    header, _, body = data.partition(b"\n")
    fields = header.decode("ascii").split()
    if fields[0] != "YUV4MPEG2":
        raise ValueError("not a YUV4MPEG2 file")
    tags = {f[0]: f[1:] for f in fields[1:]}
    width, height = int(tags["W"]), int(tags["H"])
    numerator, denominator = (int(v) for v in tags["F"].split(":"))
    luma_size, chroma_size = width * height, (width // 2) * (height // 2)
    frame_size = len(FRAME_HEADER) + luma_size + 2 * chroma_size
    if len(body) % frame_size:
        raise ValueError("the file does not hold whole frames")
    frames = []
    for start in range(0, len(body), frame_size):
        chunk = body[start : start + frame_size]
        if not chunk.startswith(FRAME_HEADER):
            raise ValueError(f"frame at byte {start} lacks its FRAME line")
        raw = np.frombuffer(chunk[len(FRAME_HEADER) :], dtype=np.uint8).astype(np.float64)
        luma = raw[:luma_size].reshape(height, width)
        u = raw[luma_size : luma_size + chroma_size].reshape(height // 2, width // 2)
        v = raw[luma_size + chroma_size :].reshape(height // 2, width // 2)
        full = np.empty((height, width, 3))
        full[:, :, 0] = (luma - 16.0) * (255.0 / 219.0)
        for plane, channel in ((u, 1), (v, 2)):
            full[:, :, channel] = 128.0 + (np.kron(plane, np.ones((2, 2))) - 128.0) * (
                255.0 / 224.0
            )
        ycbcr = np.clip(np.rint(full), 0, 255).astype(np.uint8)
        frames.append(np.asarray(Image.fromarray(ycbcr, "YCbCr").convert("RGB"), dtype=np.uint8))
    return frames, round(numerator / denominator)


def _checked(frame: Frame) -> tuple[int, int]:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 frame, got {frame.dtype} {frame.shape}")
    height, width = frame.shape[:2]
    if width % 2 or height % 2 or not width or not height:
        raise ValueError(f"Y4M 4:2:0 frames need an even width and height, got {width}x{height}")
    return height, width


# --- Chromium's fake camera -----------------------------------------------------------------

_CAPTURE_JS = """async ([count, interval]) => {
  const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}});
  const player = document.createElement("video");
  player.srcObject = stream;
  player.muted = true;
  await player.play();
  const canvas = document.createElement("canvas");
  canvas.width = player.videoWidth;
  canvas.height = player.videoHeight;
  const context = canvas.getContext("2d");
  const frames = [];
  for (let i = 0; i < count; i++) {
    context.drawImage(player, 0, 0);
    frames.push(canvas.toDataURL("image/png"));
    await new Promise((done) => setTimeout(done, interval));
  }
  stream.getTracks().forEach((track) => track.stop());
  return frames;
}"""


def find_chromium() -> str | None:
    """The Chromium to drive: Debian's package (what ``make test`` installs) or Playwright's."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def capture_fake_camera(
    y4m: str | Path, count: int, interval_ms: int, chromium: str | None = None
) -> list[Frame]:
    """Frames a page gets from ``getUserMedia`` when Chromium's camera plays ``y4m``: drawn on a
    canvas every ``interval_ms``, as the enrollment page does (PNG, so nothing is lost)."""
    from playwright.sync_api import sync_playwright

    executable = chromium or find_chromium()
    args = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={Path(y4m).resolve()}",
    ]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=args)
        try:
            page = browser.new_page()
            # getUserMedia needs a secure context; localhost is one, and nothing listens there.
            page.route(
                "http://localhost/",
                lambda route: route.fulfill(body="<!doctype html><title>camera</title>"),
            )
            page.goto("http://localhost/")
            urls: list[str] = page.evaluate(_CAPTURE_JS, [count, interval_ms])
        finally:
            browser.close()
    return [_png_frame(url) for url in urls]


def _png_frame(data_url: str) -> Frame:
    encoded = data_url.split(",", 1)[1]
    with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


# --- Framing ------------------------------------------------------------------------------


def letterbox(image: Frame, width: int = WIDTH, height: int = HEIGHT) -> Frame:
    """The whole picture scaled to fit the frame, centred on black."""
    source = Image.fromarray(image, "RGB")
    scale = min(width / source.width, height / source.height)
    size = (max(1, round(source.width * scale)), max(1, round(source.height * scale)))
    canvas = Image.new("RGB", (width, height))
    canvas.paste(
        source.resize(size, Image.Resampling.LANCZOS),
        ((width - size[0]) // 2, (height - size[1]) // 2),
    )
    return np.asarray(canvas, dtype=np.uint8).copy()


def selfie(
    photo: ImageSource,
    width: int = WIDTH,
    height: int = HEIGHT,
    face_fraction: float = 0.4,
) -> Frame:
    """The photo framed as a selfie: its one face centred, ``face_fraction`` of the width."""
    image = load_image(photo)
    points = _landmarks(image)
    span = float(points[16, 0] - points[0, 0])
    scale = face_fraction * width / span
    centre_x = (points[0, 0] + points[16, 0]) / 2
    centre_y = points[27:31, 1].mean()
    matrix = np.array(
        [[scale, 0.0, width / 2 - scale * centre_x], [0.0, scale, height * 0.45 - scale * centre_y]]
    )
    flags = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return np.asarray(cv2.warpAffine(image, matrix, (width, height), flags=flags), dtype=np.uint8)


# --- Sequences ----------------------------------------------------------------------------


def head_turn_frames(
    photo: ImageSource,
    direction: Direction,
    n_frames: int = 10,
    *,
    degrees: float = 30.0,
    hold: int = 2,
    face_fraction: float = 0.4,
    start_degrees: float = 0.0,
) -> list[Frame]:
    """A head turning to the person's own ``direction``: ``hold`` frontal frames, then a turn
    easing out to ``degrees``. ``start_degrees`` first turns a photo whose face is not frontal
    (positive: towards the person's left)."""
    frame = selfie(photo, face_fraction=face_fraction)
    points = _landmarks(frame)
    sign = 1.0 if direction == "left" else -1.0
    moving = max(1, n_frames - hold)
    angles = [
        start_degrees
        + sign * degrees * math.sin(0.5 * math.pi * min(1.0, max(0, k - hold + 1) / moving))
        for k in range(n_frames)
    ]
    return [turn_head(frame, points, angle) for angle in angles]


def turn_head(frame: Frame, points: npt.NDArray[np.float64], degrees: float) -> Frame:
    """The face in ``frame`` (with its 68 landmarks) turned by ``degrees`` to its own left."""
    if degrees == 0.0:
        return frame.copy()
    height, width = frame.shape[:2]
    shift = _turn_shift(points, height, width, math.radians(degrees))
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    # The warp is given forwards (where each source pixel goes); remap needs the inverse, found
    # by fixed-point iteration (the shift changes slowly, so a few rounds converge).
    source_x = grid_x.copy()
    for _ in range(8):
        moved = cv2.remap(
            shift, source_x, grid_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        source_x = grid_x - moved
    return np.asarray(cv2.remap(frame, source_x, grid_y, cv2.INTER_LINEAR), dtype=np.uint8)


def write_head_turn_y4m(
    photo: ImageSource,
    direction: Direction,
    path: str | Path,
    *,
    fps: int = 10,
    hold_seconds: float = 0.5,
    turn_seconds: float = 1.5,
    end_seconds: float = 1.0,
    degrees: float = 30.0,
) -> Path:
    """A fake-camera file of a head turn: frontal for ``hold_seconds``, turning for
    ``turn_seconds``, then held turned for ``end_seconds`` (Chromium loops the file, and each
    getUserMedia starts at the frontal frames). 10 fps keeps it small: a 640x480 frame takes
    460,806 bytes."""
    hold = round(fps * hold_seconds)
    frames = head_turn_frames(
        photo, direction, hold + round(fps * turn_seconds), degrees=degrees, hold=hold
    )
    frames += [frames[-1]] * round(fps * end_seconds)
    return write_y4m(frames, path, fps=fps)


def still_frames(photo: ImageSource, n_frames: int = 10, face_fraction: float = 0.4) -> list[Frame]:
    """The same picture repeated: a photo or a paused screen held perfectly still."""
    frame = selfie(photo, face_fraction=face_fraction)
    return [frame.copy() for _ in range(n_frames)]


def flat_photo_frames(
    photo: ImageSource,
    n_frames: int = 10,
    *,
    tilt_degrees: float = 45.0,
    roll_degrees: float = 10.0,
    shift: float = 0.15,
    zoom: float = 0.15,
    face_fraction: float = 0.4,
) -> list[Frame]:
    """A flat picture in front of the camera, tilted about its vertical axis up to
    ``tilt_degrees`` (which turns the printed face's nose to a side), rolled, moved by
    ``shift`` of the frame width and brought ``zoom`` closer: every frame a homography of the
    first, as any print or screen gives."""
    frame = selfie(photo, face_fraction=face_fraction)
    points = _landmarks(frame)
    height, width = frame.shape[:2]
    centre = (float(points[0, 0] + points[16, 0]) / 2, float(points[27:31, 1].mean()))
    frames = []
    for k in range(n_frames):
        t = k / max(1, n_frames - 1)
        matrix = _flat_motion(
            centre,
            width,
            height,
            tilt=math.radians(tilt_degrees * t),
            roll=math.radians(roll_degrees * t),
            offset=(shift * width * t, 0.3 * shift * height * t),
            scale=1.0 + zoom * t,
        )
        frames.append(
            np.asarray(cv2.warpPerspective(frame, matrix, (width, height)), dtype=np.uint8)
        )
    return frames


def jpeg_frames(frames: Sequence[Frame], quality: int = 85) -> list[bytes]:
    """Frames encoded as the browser sends them (canvas.toBlob("image/jpeg"))."""
    encoded = []
    for frame in frames:
        ok, data = cv2.imencode(
            ".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        if not ok:
            raise ValueError("JPEG encoding failed")
        encoded.append(data.tobytes())
    return encoded


def mirrored(frames: Sequence[Frame]) -> list[Frame]:
    """Frames flipped left to right, as a mirrored preview shows them."""
    return [np.ascontiguousarray(frame[:, ::-1]) for frame in frames]


def _landmarks(image: Frame) -> npt.NDArray[np.float64]:
    boxes = engine.detect(image)
    if len(boxes) != 1:
        raise ValueError(f"expected one face in the photo, found {len(boxes)}")
    (points,) = engine.landmarks(image, boxes)
    return points.astype(np.float64)


def _turn_shift(
    points: npt.NDArray[np.float64], height: int, width: int, angle: float
) -> npt.NDArray[np.float32]:
    """How far each pixel moves sideways when the head turns by ``angle`` (radians)."""
    span = float(points[16, 0] - points[0, 0])  # jaw width at ear level
    centre_x = float(points[0, 0] + points[16, 0]) / 2
    eyes_y = float(points[36:48, 1].mean())
    centre_y = (eyes_y + float(points[8, 1])) / 2 - 0.1 * span
    half_width, half_height = 0.62 * span, 0.85 * span
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64)
    )
    across = (grid_x - centre_x) / half_width
    down = (grid_y - centre_y) / half_height
    # A rounded head (depth half its half-width at the middle) and a nose along the bridge,
    # protruding a fifth of the face width: the proportions of an adult face.
    head = np.clip(1.0 - across**2, 0.0, None) * 0.5 * half_width
    bridge, tip = points[27], points[30]
    nose_x, nose_y = tip[0], (tip[1] + bridge[1]) / 2 + 0.15 * (tip[1] - bridge[1])
    sigma_x, sigma_y = 0.11 * span, 0.5 * (tip[1] - bridge[1]) + 0.05 * span
    nose = (
        0.22
        * span
        * np.exp(
            -((grid_x - nose_x) ** 2) / (2 * sigma_x**2) - (grid_y - nose_y) ** 2 / (2 * sigma_y**2)
        )
    )
    # Fade the movement out around the head so the background stays put.
    radius = np.sqrt(across**2 + down**2)
    weight = np.clip((1.35 - radius) / 0.35, 0.0, 1.0)
    weight = weight * weight * (3 - 2 * weight)
    shift = weight * ((grid_x - centre_x) * (math.cos(angle) - 1) + (head + nose) * math.sin(angle))
    return np.asarray(shift, dtype=np.float32)


def _flat_motion(
    centre: tuple[float, float],
    width: int,
    height: int,
    *,
    tilt: float,
    roll: float,
    offset: tuple[float, float],
    scale: float,
) -> npt.NDArray[np.float64]:
    """The homography of a flat picture (in the camera's view at depth FOCAL_PX) rolled, tilted
    about its vertical axis through ``centre``, scaled and moved."""
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    cos_r, sin_r = math.cos(roll), math.sin(roll)
    placed = []
    for x, y in corners:
        # In the picture's own plane: roll and scale about the face.
        px = scale * (cos_r * (x - centre[0]) - sin_r * (y - centre[1]))
        py = scale * (sin_r * (x - centre[0]) + cos_r * (y - centre[1]))
        # Turn the plane about its vertical axis, then project through the pinhole.
        depth = FOCAL_PX + px * math.sin(tilt)
        placed.append(
            [
                centre[0] + offset[0] + FOCAL_PX * px * math.cos(tilt) / depth,
                centre[1] + offset[1] + FOCAL_PX * py / depth,
            ]
        )
    return np.asarray(
        cv2.getPerspectiveTransform(corners, np.array(placed, dtype=np.float32)), dtype=np.float64
    )
