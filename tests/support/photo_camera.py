"""A live camera for gate tests that keeps seeing one photo (by default Lin-Manuel Miranda's).

On its own clock the frames are a second apart (more than the tracker's time to live), so each
frame starts a new track and the face is matched, and decided on, afresh: a gate in front of it
makes a decision every frame, as long as the person is in its gallery.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from gate_agent.sources import Frame
from optin.faces.images import load_image

from support.fake_agent_api import LIN_MANUEL, SAMPLES

PHOTO = SAMPLES / "faces" / LIN_MANUEL


class PhotoCamera:
    """A live source showing one photo every ``period`` seconds of real time."""

    live = True
    description = "a photo of Lin-Manuel Miranda, looping"

    def __init__(self, path: Path = PHOTO, period: float = 0.1) -> None:
        self._image = load_image(path)
        self._period = period
        self._closed = threading.Event()

    def frames(self) -> Iterator[Frame]:
        index = 0
        while not self._closed.wait(self._period):
            yield Frame(index, float(index), time.monotonic(), self._image)
            index += 1

    def close(self) -> None:
        self._closed.set()
