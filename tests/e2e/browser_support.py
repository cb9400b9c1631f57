"""What the browser tests share: the live app's facts, the fake camera, timeouts and photos."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from optin.config import Settings
from optin.runtime import Keys

from support import video
from support.smtp import SmtpServer

CHROMIUM = Path("/usr/bin/chromium")
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "faces"
VENUES = (("onsen-hotel", "Onsen Hotel Shirahama"), ("adventure-park", "Adventure Park"))

#: Every wait in these tests is bounded: a fake camera fed a bad file waits forever.
TIMEOUT_MS = 30_000
PHONE = {"width": 360, "height": 740}

#: The fake camera's timeline. The page opens the camera, shows live hints while the person
#: looks straight for at least 1.5 s (enroll.js LOOK_MIN_MS), then takes 8 frames 250 ms apart;
#: measured here, the first frame is taken about 1.7 s into the video. The video looks straight
#: for 2.5 s, turns over 1 s, then holds the turned head. Judged offline with the real judge,
#: captures starting anywhere from 1.0 s to 2.6 s pass for both photos and both directions
#: (earlier ones see too little turn, later ones no frontal face).
CAMERA_FPS = 10
LOOK_SECONDS = 2.5
TURN_FRAMES = 10  # one second at CAMERA_FPS
HOLD_SECONDS = 5.0


@dataclass
class LiveApp:
    url: str
    settings: Settings
    keys: Keys
    smtp: SmtpServer
    #: language -> the notice published in it
    notices: dict[str, NoticeFacts] = field(default_factory=dict)


@dataclass(frozen=True)
class NoticeFacts:
    id: str
    sha256: str
    version: int


@dataclass
class FakeCamera:
    """The file Chromium was launched with (``--use-file-for-fake-video-capture``)."""

    path: Path

    def show(self, frames: list[video.Frame]) -> None:
        """Replace the camera's video, one frame per tick at CAMERA_FPS (written atomically)."""
        header = video.y4m_header(video.WIDTH, video.HEIGHT, CAMERA_FPS)
        encoded: dict[int, bytes] = {}
        partial = self.path.with_name(self.path.name + ".partial")
        with partial.open("wb") as out:
            out.write(header)
            for frame in frames:
                # Held frames are the same array: convert each distinct one once.
                if id(frame) not in encoded:
                    encoded[id(frame)] = video.to_yuv420(frame)
                out.write(video.FRAME_HEADER)
                out.write(encoded[id(frame)])
        partial.replace(self.path)

    def show_head_turn(self, photo: Path, action: str, *, start_degrees: float = 0.0) -> None:
        """A person looking straight, then turning as the challenge asks (``turn-left``: their
        own left, which in the unmirrored camera picture moves the nose to the right)."""
        direction: video.Direction = "left" if action == "turn-left" else "right"
        turn = video.head_turn_frames(
            photo, direction, TURN_FRAMES + 1, hold=1, start_degrees=start_degrees
        )
        look, moving, held = turn[0], turn[1:], turn[-1]
        frames = [look] * round(LOOK_SECONDS * CAMERA_FPS) + moving
        frames += [held] * round(HOLD_SECONDS * CAMERA_FPS)
        self.show(frames)


#: The ``new_page`` fixture: ``with new_page(locale="ja-JP") as page: ...``
NewPage = Callable[..., AbstractContextManager[Any]]

_T = TypeVar("_T")


def run_async(coroutine: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to the end in a thread of its own.

    Playwright's sync API drives its event loop from this thread (in a greenlet), so
    ``asyncio.run`` here would find a loop running; the database helpers use this instead.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine())).result(timeout=60)
