"""The "face recognition in operation" indicator: on exactly while the camera is open.

The Guidebook asks that people can tell when a camera identifies faces. The agent turns the
indicator on just before it opens the source and off as soon as the source is closed (the
source ends, the gate stops, or opening failed). Each change is a log line, and with a status
file (``--indicator-file``) the file is rewritten atomically with ``{"on": ..., "since": ...,
"message": ...}``, for a lamp or a display to follow. Nothing in it is about a person.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from gate_agent.sources.base import Frame, FrameSource

log = logging.getLogger(__name__)

ON_MESSAGE: Final = "face recognition in operation"
OFF_MESSAGE: Final = "camera off: face recognition stopped"


class Indicator:
    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._on = False
        self._times_on = 0
        if path is not None:
            self._write(False)  # a lamp left on by a crashed run goes off at start

    @property
    def on(self) -> bool:
        with self._lock:
            return self._on

    def switch_on(self, where: str) -> None:
        with self._lock:
            if self._on:
                return
            self._on = True
            self._times_on += 1
            self._write(True)
        log.info("indicator ON: %s (%s)", ON_MESSAGE.upper(), where)

    def switch_off(self) -> None:
        with self._lock:
            if not self._on:
                return
            self._on = False
            self._write(False)
        log.info("indicator off: %s", OFF_MESSAGE)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"on": self._on, "times_on": self._times_on}

    def _write(self, on: bool) -> None:
        if self._path is None:
            return
        body = {
            "on": on,
            "since": datetime.now(UTC).isoformat(),
            "message": ON_MESSAGE if on else OFF_MESSAGE,
        }
        temporary = self._path.with_name(self._path.name + ".tmp")
        try:
            temporary.write_text(json.dumps(body) + "\n", encoding="utf-8")
            temporary.replace(self._path)
        except OSError as exc:
            log.error("indicator file not written: %s", exc.strerror or type(exc).__name__)


class IndicatedSource:
    """A source that switches the indicator off the moment it is closed."""

    def __init__(self, source: FrameSource, indicator: Indicator) -> None:
        self._source = source
        self._indicator = indicator

    @property
    def live(self) -> bool:
        return self._source.live

    @property
    def description(self) -> str:
        return self._source.description

    def frames(self) -> Iterator[Frame]:
        return self._source.frames()

    def close(self) -> None:
        try:
            self._source.close()
        finally:
            self._indicator.switch_off()
