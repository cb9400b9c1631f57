"""What the gate knows right now, shared by the sync thread (writer) and the pipeline (reader).

The pipeline asks for a ``View`` once per frame: the config, the venue transform and the gallery
of one moment, or the reason it may not decide (no gallery yet, offline too long, gate revoked).
A gate that has not heard from the server for longer than the maximum offline age refuses to
decide: everyone goes to the conventional lane.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gate_agent.gallery import GalleryState, GateConfig
from optin.matching import Matrix

NO_CONFIG = "waiting for the server: conventional lane only"
NO_GALLERY = "no gallery yet: conventional lane only"
OFFLINE_TOO_LONG = "offline too long: conventional lane only"
OPERATING = "face recognition in operation"


@dataclass(frozen=True, slots=True)
class View:
    config: GateConfig
    transform: Matrix
    gallery: GalleryState
    synced_at: float


class GateState:
    """Thread-safe holder of the config, transform, gallery and time of the last good sync."""

    def __init__(
        self,
        *,
        max_offline_override: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._override = max_offline_override
        self._config: GateConfig | None = None
        self._transform: Matrix | None = None
        self._gallery: GalleryState | None = None
        self._synced_at = float("-inf")
        self._blocked: str | None = None

    @property
    def config(self) -> GateConfig | None:
        with self._lock:
            return self._config

    @property
    def gallery(self) -> GalleryState | None:
        with self._lock:
            return self._gallery

    @property
    def synced_at(self) -> float:
        with self._lock:
            return self._synced_at

    @property
    def sequence(self) -> int:
        """The sequence to ask the server for changes since; 0 asks for a snapshot."""
        with self._lock:
            return self._gallery.sequence if self._gallery is not None else 0

    def max_offline_seconds(self) -> float:
        with self._lock:
            return self._max_offline()

    def set_config(self, config: GateConfig, key: bytes) -> None:
        """Take a new config; a changed venue (or seed) drops the gallery built for the old one."""
        transform = config.transform(key)
        with self._lock:
            old = self._config
            if old is not None and (
                old.venue_slug != config.venue_slug
                or self._transform is None
                or not np.array_equal(self._transform, transform)
            ):
                # Templates transformed for another venue or seed would match nobody (or the
                # wrong person): start again from a snapshot.
                self._gallery = None
            self._config = config
            self._transform = transform
            self._blocked = None

    def set_gallery(self, gallery: GalleryState, synced_at: float) -> None:
        with self._lock:
            self._gallery = gallery
            self._synced_at = synced_at
            self._blocked = None

    def touch(self, synced_at: float) -> None:
        """The server answered and nothing changed: the gallery is fresh as of ``synced_at``."""
        with self._lock:
            self._synced_at = synced_at

    def block(self, reason: str) -> None:
        """Forget the gallery and refuse to decide (the server no longer knows this gate)."""
        with self._lock:
            self._gallery = None
            self._blocked = reason

    def view(self) -> View | str:
        """What the pipeline may decide with now, or the reason it may not."""
        with self._lock:
            if self._blocked is not None:
                return self._blocked
            if self._config is None or self._transform is None:
                return NO_CONFIG
            if self._gallery is None:
                return NO_GALLERY
            if self._clock() - self._synced_at > self._max_offline():
                return OFFLINE_TOO_LONG
            return View(self._config, self._transform, self._gallery, self._synced_at)

    def status(self) -> str:
        view = self.view()
        return view if isinstance(view, str) else OPERATING

    def _max_offline(self) -> float:
        if self._config is None:
            return 0.0
        limit = self._config.max_offline_seconds
        return float(min(limit, self._override) if self._override is not None else limit)
