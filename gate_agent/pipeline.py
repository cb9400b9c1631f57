"""From frames to decisions: capture thread -> bounded queue -> worker -> actuator and events.

Per frame the worker (``FaceProcessor``) detects faces on a shrunken copy, follows them with the
IoU tracker, and only for a track not yet identified checks quality (size, border, pose, blur),
encodes the face, passes the embedding through the venue transform and matches it against the
gallery. A track is encoded at most N times (best of N); the first confident match decides.

Privacy by construction: an embedding lives in local variables for one match and is gone when
``_identify`` returns; a track keeps a box and timestamps, never a pixel or an embedding; a face
that matches nobody gets no decision, no event and no record, only ``on_lane("no-match")``
(the actuator tells them to use the conventional lane, saying nothing about them), and its track
is forgotten ``track_ttl`` seconds after it leaves. Entering fallback mode (no usable gallery)
calls ``on_lane("fallback")`` once. Nothing in this module writes to disk.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from gate_agent.actuators import Actuator
from gate_agent.config import PipelineSettings, Purpose
from gate_agent.decisions import Decision, decide
from gate_agent.matching import MatchKind, match
from gate_agent.metrics import Metrics
from gate_agent.presence import Presence
from gate_agent.sources.base import Frame, FrameSource
from gate_agent.state import OPERATING, GateState, View
from gate_agent.tracker import Track, Tracker, TrackState
from optin.faces import frames
from optin.faces.quality import blur_score
from optin.faces.results import FaceBox
from optin.matching import transform

log = logging.getLogger(__name__)

_END: Final = object()


def utc_now() -> datetime:
    return datetime.now(UTC)


class FaceProcessor:
    """Turns frames into decisions about enrolled people; every other face is dropped here.

    With ``presence`` (payment mode) it makes no passage decisions: it reports who is identified
    in each frame, and the till decides when a purchase is waiting. Someone who walks past a
    till without buying anything leaves no event.
    """

    def __init__(
        self,
        state: GateState,
        metrics: Metrics,
        *,
        purpose: Purpose = "entry",
        settings: PipelineSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        presence: Presence | None = None,
        on_lane: Callable[[str], None] | None = None,
    ) -> None:
        self._on_lane = on_lane
        self._state = state
        self._metrics = metrics
        self._purpose: Purpose = purpose
        self._settings = settings or PipelineSettings()
        self._clock = clock
        self._presence = presence
        self._tracker = self._new_tracker()
        self._last_decided: dict[str, float] = {}  # enrolled ref -> source time of its decision
        self._status: str | None = None

    @property
    def status(self) -> str | None:
        return self._status

    def process(self, frame: Frame) -> list[Decision]:
        self._metrics.add("frames_processed")
        view = self._state.view()
        if isinstance(view, str):
            # No usable gallery: no face work at all, and no track survives the gap.
            if view != self._status:
                self._lane("fallback")  # a standing sign, shown when the gate falls back
            self._set_status(view)
            self._metrics.add("frames_refused")
            self._tracker = self._new_tracker()
            if self._presence is not None:
                self._presence.clear()
            return []
        self._set_status(OPERATING)
        if len(view.gallery) == 0:
            return []  # nobody is enrolled here: there is nobody to recognise
        settings = self._settings
        boxes = frames.detect(
            frame.image, scale=settings.detect_scale, upsample=settings.detect_upsample
        )
        self._metrics.add("faces", len(boxes))
        tracks = self._tracker.update(boxes, frame.timestamp, frame.captured_at)
        decisions = []
        for track in tracks:
            if track.hits == 1:
                self._metrics.add("tracks")
            if track.state is TrackState.IDENTIFIED and track.ref not in view.gallery.entries:
                # Withdrawn or deleted since: from now on this face is nobody's.
                track.state, track.ref = TrackState.UNMATCHED, None
            if track.state is TrackState.IDENTIFIED:
                self._metrics.add("enrolled_frames")
            elif (
                track.state is TrackState.PENDING
                and frame.timestamp - track.last_attempt >= settings.attempt_interval
            ):
                decision = self._identify(frame, track, view)
                if decision is not None:
                    decisions.append(decision)
        if self._presence is not None:
            self._presence.seen(
                track.ref
                for track in tracks
                if track.state is TrackState.IDENTIFIED and track.ref is not None
            )
        return decisions

    def _identify(self, frame: Frame, track: Track, view: View) -> Decision | None:
        settings = self._settings
        image = frame.image
        height, width = image.shape[:2]
        if not _box_usable(track.box, height, width, settings):
            self._metrics.add("quality_rejected")
            return None
        (aligned,) = frames.align(image, [track.box])
        if frames.yaw_ratio(aligned.points) > settings.max_yaw or (
            blur_score(image, track.box.clamped(height, width)) < settings.min_blur
        ):
            self._metrics.add("quality_rejected")
            return None
        track.attempts += 1
        track.last_attempt = frame.timestamp
        self._metrics.add("encodings")
        probe = transform(view.transform, frames.encode(image, aligned))
        result = match(
            view.gallery,
            probe,
            threshold=view.config.match_threshold,
            margin=view.config.match_margin,
        )
        del probe, aligned
        if result.kind is MatchKind.MATCH and result.ref is not None:
            return self._identified(frame, track, view, result.ref, result.distance)
        if result.kind is MatchKind.AMBIGUOUS:
            self._metrics.add("ambiguous")
        if track.attempts >= settings.max_attempts:
            track.state = TrackState.UNMATCHED  # nobody enrolled: left alone until it leaves
            self._metrics.add("unmatched_tracks")
            if self._presence is None:
                self._lane("no-match")
        return None

    def _identified(
        self, frame: Frame, track: Track, view: View, ref: str, distance: float
    ) -> Decision | None:
        track.state = TrackState.IDENTIFIED
        track.ref = ref
        self._metrics.add("matches")
        self._metrics.add("enrolled_frames", track.hits)
        if self._presence is not None:
            return None  # payment mode: the till decides, when a purchase is waiting
        cooldown = self._settings.decision_cooldown
        self._last_decided = {
            known: at for known, at in self._last_decided.items() if frame.timestamp - at < cooldown
        }
        if ref in self._last_decided:
            self._last_decided[ref] = frame.timestamp
            self._metrics.add("repeat_passages")  # the same person, still passing: no new event
            return None
        self._last_decided[ref] = frame.timestamp
        now = self._clock()
        outcome = decide(view.gallery.entries[ref], self._purpose, now)
        self._metrics.add(f"decision_{outcome}")
        self._metrics.observe_latency(time.monotonic() - track.first_captured)
        return Decision(
            ref=ref, purpose=self._purpose, outcome=outcome, distance=distance, occurred_at=now
        )

    def _lane(self, reason: str) -> None:
        self._metrics.add("lane_prompts")
        if self._on_lane is not None:
            self._on_lane(reason)

    def _set_status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            if status == OPERATING:
                log.info("status: %s", status)
            else:
                log.warning("status: %s", status)

    def _new_tracker(self) -> Tracker:
        return Tracker(iou_threshold=self._settings.track_iou, ttl=self._settings.track_ttl)


def _box_usable(box: FaceBox, height: int, width: int, settings: PipelineSettings) -> bool:
    """Big enough, and clear of the frame's edges (a face cut off encodes badly)."""
    if min(box.width, box.height) < settings.min_face_pixels:
        return False
    gap = min(box.top, box.left, width - box.right, height - box.bottom)
    return gap / max(box.width, 1) >= settings.min_border_margin


class Pipeline:
    """The threads: capture (source -> queue) and worker (queue -> processor -> outputs).

    A live source drops the oldest waiting frame when the worker falls behind (a stale frame is
    useless at a gate); a non-live one waits, so every frame is processed. ``stop`` ends both.
    """

    def __init__(
        self,
        source: FrameSource,
        processor: FaceProcessor,
        actuator: Actuator,
        on_decision: Callable[[Decision], None],
        metrics: Metrics,
        stop: threading.Event,
        *,
        queue_size: int = 2,
        max_frames: int | None = None,
        duration: float | None = None,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self._on_end = on_end
        self._source = source
        self._processor = processor
        self._actuator = actuator
        self._on_decision = on_decision
        self._metrics = metrics
        self._stop = stop
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._max_frames = max_frames
        self._duration = duration
        self._capture = threading.Thread(
            target=self._capture_loop, name="gate-capture", daemon=True
        )
        self._worker = threading.Thread(target=self._work_loop, name="gate-worker", daemon=True)

    def start(self) -> None:
        self._capture.start()
        self._worker.start()

    @property
    def finished(self) -> bool:
        return not self._worker.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._worker.join(timeout)
        self._capture.join(timeout)

    def run(self) -> None:
        """Start and wait until the source ends or ``stop`` is set."""
        self.start()
        while not self.finished:
            self._worker.join(0.2)
        self.join()

    def _capture_loop(self) -> None:
        started = time.monotonic()
        count = 0
        try:
            for frame in self._source.frames():
                if self._stop.is_set():
                    break
                if self._duration is not None and time.monotonic() - started > self._duration:
                    break
                self._metrics.add("frames")
                if self._source.live:
                    self._offer(frame)
                elif not self._put(frame):
                    break
                del frame
                count += 1
                if self._max_frames is not None and count >= self._max_frames:
                    break
        except Exception as exc:  # noqa: BLE001 - a broken camera must not kill the gate silently
            log.error("the camera failed: %s", type(exc).__name__)
        finally:
            self._source.close()
            self._put(_END)

    def _offer(self, frame: Frame) -> None:
        """Put without waiting: when the queue is full, the oldest frame goes."""
        while True:
            try:
                self._queue.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self._metrics.add("frames_dropped")
                except queue.Empty:
                    pass

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _work_loop(self) -> None:
        try:
            self._work()
        finally:
            if self._on_end is not None:
                self._on_end()

    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if item is _END or self._stop.is_set() or not isinstance(item, Frame):
                return
            try:
                decisions = self._processor.process(item)
            except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the gate
                # The type only: a message could carry values computed from a face.
                log.error("a frame could not be processed: %s", type(exc).__name__)
                self._metrics.add("frame_errors")
                continue
            finally:
                del item
            for decision in decisions:
                # Recorded (durably, by the outbox) before the gate acts on it: a gate killed
                # in between has an event for every door it opened.
                self._on_decision(decision)
                self._actuator.actuate(decision)
