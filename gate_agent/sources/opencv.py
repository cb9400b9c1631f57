"""Video files, webcams and network streams (RTSP, HTTP) through OpenCV, imported lazily."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gate_agent.sources.base import Frame, SourceError
from optin.faces.frames import as_rgb

#: A stream that stops answering is reopened after this many failed reads in a row.
_STREAM_FAILURES_BEFORE_REOPEN = 25


def _cv2() -> Any:
    import cv2

    return cv2


def redact(url: str) -> str:
    """A stream URL without its user name and password, for logs."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class VideoFileSource:
    """A video file, paced at its frame rate (``realtime``) or read as fast as the reader goes.

    ``stride`` keeps every n-th frame (the others are grabbed but not decoded), for tests and
    benchmarks that need less work; timestamps stay the video's own.
    """

    def __init__(self, path: str, *, realtime: bool = False, stride: int = 1) -> None:
        if stride < 1:
            raise SourceError(f"stride must be at least 1, got {stride}")
        cv2 = _cv2()
        self._capture = cv2.VideoCapture(path)
        if not self._capture.isOpened():
            raise SourceError(f"cannot open the video {path}")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self._fps = fps if fps > 0 else 30.0
        self._realtime = realtime
        self._stride = stride
        self._path = path

    @property
    def live(self) -> bool:
        return self._realtime

    @property
    def description(self) -> str:
        return f"video file {self._path}" + (" (real time)" if self._realtime else "")

    def frames(self) -> Iterator[Frame]:
        started = time.monotonic()
        index = -1
        while True:
            index += 1
            if index % self._stride:
                if not self._capture.grab():
                    return
                continue
            ok, bgr = self._capture.read()
            if not ok:
                return
            timestamp = index / self._fps
            if self._realtime:
                delay = started + timestamp - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            yield Frame(index, timestamp, time.monotonic(), as_rgb(bgr, bgr=True))

    def close(self) -> None:
        self._capture.release()


class CaptureDeviceSource:
    """A webcam (by index) or a network stream (RTSP/HTTP URL): live, reopened when it stalls."""

    def __init__(self, target: int | str) -> None:
        self._target = target
        self._capture: Any = None
        self._open()

    def _open(self) -> None:
        cv2 = _cv2()
        capture = cv2.VideoCapture(self._target)
        if not capture.isOpened():
            raise SourceError(f"cannot open {self.description}")
        self._capture = capture

    @property
    def live(self) -> bool:
        return True

    @property
    def description(self) -> str:
        if isinstance(self._target, int):
            return f"webcam {self._target}"
        return f"stream {redact(self._target)}"

    def frames(self) -> Iterator[Frame]:
        started = time.monotonic()
        index = 0
        failures = 0
        while True:
            ok, bgr = self._capture.read()
            if not ok:
                failures += 1
                if failures >= _STREAM_FAILURES_BEFORE_REOPEN:
                    if isinstance(self._target, int):
                        return  # a webcam that stops giving frames was unplugged
                    self._capture.release()
                    time.sleep(1.0)
                    try:
                        self._open()
                    except SourceError:
                        return
                    failures = 0
                continue
            failures = 0
            now = time.monotonic()
            yield Frame(index, now - started, now, as_rgb(bgr, bgr=True))
            index += 1

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
