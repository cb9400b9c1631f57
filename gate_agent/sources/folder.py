"""A folder of still images, each one frame, in name order (a stand-in camera for tests)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from gate_agent.sources.base import Frame, SourceError
from optin.errors import ImageRejected
from optin.faces.images import load_image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})


class ImageFolderSource:
    """Every image in a folder (not its sub-folders), ``interval`` seconds apart on its clock.

    The interval is a timestamp, not a wait: consecutive images are different scenes, so the
    default of one second keeps the tracker from joining faces of two pictures.
    """

    def __init__(self, folder: Path, *, interval: float = 1.0) -> None:
        if not folder.is_dir():
            raise SourceError(f"not a folder: {folder}")
        self._paths = sorted(
            path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES
        )
        self._folder = folder
        self._interval = interval

    @property
    def live(self) -> bool:
        return False

    @property
    def description(self) -> str:
        return f"image folder {self._folder} ({len(self._paths)} images)"

    def frames(self) -> Iterator[Frame]:
        for index, path in enumerate(self._paths):
            try:
                image = load_image(path)
            except ImageRejected:
                continue  # an unreadable file is no frame
            yield Frame(index, index * self._interval, time.monotonic(), image)

    def close(self) -> None:
        pass
