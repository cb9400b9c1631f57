"""A small IoU tracker, so a face is encoded once per passage rather than on every frame.

A track holds a box, times and what the pipeline decided about it: never an image, a crop or an
embedding. Track ids are counters that live in memory only and are never logged or sent. A track
unseen for ``ttl`` seconds (on the source's clock) is forgotten.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from optin.faces.results import FaceBox


class TrackState(enum.Enum):
    PENDING = "pending"  # not identified yet: may be encoded (up to the pipeline's N times)
    IDENTIFIED = "identified"  # matched an enrolled person; ``ref`` says who
    UNMATCHED = "unmatched"  # matched nobody in N tries: left alone until it goes away


@dataclass(slots=True)
class Track:
    id: int
    box: FaceBox
    first_seen: float  # source clock
    first_captured: float  # time.monotonic() of the first frame: start of decision latency
    last_seen: float
    hits: int = 1
    attempts: int = 0
    last_attempt: float = float("-inf")
    state: TrackState = TrackState.PENDING
    ref: str | None = None  # only for IDENTIFIED tracks: the enrolled person's venue pseudonym


def iou(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes (0 when they do not overlap)."""
    inter_w = min(a.right, b.right) - max(a.left, b.left)
    inter_h = min(a.bottom, b.bottom) - max(a.top, b.top)
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


class Tracker:
    """Greedy IoU association of each frame's boxes with the live tracks."""

    def __init__(self, *, iou_threshold: float = 0.3, ttl: float = 0.5) -> None:
        self._iou_threshold = iou_threshold
        self._ttl = ttl
        self._tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks.values())

    def update(self, boxes: Sequence[FaceBox], timestamp: float, captured_at: float) -> list[Track]:
        """The track of each box, in the boxes' order; new boxes start new tracks (``hits`` 1).

        Tracks not seen for ``ttl`` seconds are dropped first, so a face that left and came back
        is a new passage.
        """
        self._expire(timestamp)
        pairs = sorted(
            (
                (iou(track.box, box), track_id, index)
                for track_id, track in self._tracks.items()
                for index, box in enumerate(boxes)
            ),
            reverse=True,
        )
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        for overlap, track_id, index in pairs:
            if overlap < self._iou_threshold:
                break
            if track_id in used or index in assigned:
                continue
            track = self._tracks[track_id]
            track.box = boxes[index]
            track.last_seen = timestamp
            track.hits += 1
            assigned[index] = track
            used.add(track_id)
        result = []
        for index, box in enumerate(boxes):
            known = assigned.get(index)
            if known is None:
                known = Track(next(self._ids), box, timestamp, captured_at, timestamp)
                self._tracks[known.id] = known
            result.append(known)
        return result

    def _expire(self, timestamp: float) -> None:
        for track_id in [
            track_id
            for track_id, track in self._tracks.items()
            if timestamp - track.last_seen > self._ttl
        ]:
            del self._tracks[track_id]
