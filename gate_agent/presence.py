"""Who is at the till right now: the enrolled people the camera recognised in the last moments.

Only payment mode keeps this. The pipeline reports, per frame, the venue pseudonyms of the tracks
it has identified (enrolled people only: a face that matched nobody never has a ``ref``, so it
can never get here); the till asks who was seen within the last couple of seconds when a
purchase is waiting. In memory only, and pruned as it goes: nothing is kept about anyone for
longer than ``keep`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

#: Entries older than this are forgotten at the next update.
KEEP_SECONDS = 10.0


class Presence:
    """Thread-safe: the worker thread writes, the till reads and waits for news."""

    def __init__(
        self, *, keep: float = KEEP_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._keep = keep
        self._clock = clock
        self._changed = threading.Condition()
        self._seen: dict[str, float] = {}  # ref -> monotonic time it was last seen
        self._closed = False

    def seen(self, refs: Iterable[str]) -> None:
        """The pipeline identified these people in the frame it just processed."""
        now = self._clock()
        with self._changed:
            for ref in refs:
                self._seen[ref] = now
            self._seen = {ref: at for ref, at in self._seen.items() if now - at <= self._keep}
            self._changed.notify_all()

    def clear(self) -> None:
        """The gate may not recognise anyone now (offline too long, revoked): forget everyone."""
        with self._changed:
            self._seen.clear()
            self._changed.notify_all()

    def close(self) -> None:
        """The camera stopped: nobody new will be seen."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @property
    def closed(self) -> bool:
        with self._changed:
            return self._closed

    def recent(self, within: float) -> set[str]:
        """The people seen in the last ``within`` seconds."""
        now = self._clock()
        with self._changed:
            return {ref for ref, at in self._seen.items() if now - at <= within}

    def wait(self, timeout: float) -> None:
        """Until the next frame's report (or ``timeout``, or the camera stops)."""
        with self._changed:
            if not self._closed:
                self._changed.wait(timeout)
