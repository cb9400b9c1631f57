"""The IoU tracker: one track per face across frames, new tracks for new faces, quick forgetting."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from gate_agent.tracker import Track, Tracker, TrackState, iou
from optin.faces.results import FaceBox


def box(left: int, top: int, size: int = 100) -> FaceBox:
    return FaceBox(top=top, right=left + size, bottom=top + size, left=left)


def test_iou() -> None:
    assert iou(box(0, 0), box(0, 0)) == 1.0
    assert iou(box(0, 0), box(200, 0)) == 0.0
    assert iou(box(0, 0), box(50, 0)) == 5000 / 15000


def test_a_moving_face_keeps_its_track() -> None:
    tracker = Tracker(iou_threshold=0.3, ttl=0.5)
    (first,) = tracker.update([box(100, 100)], 0.0, 0.0)
    for step in range(1, 10):
        (same,) = tracker.update([box(100 + 10 * step, 100)], step / 30, 0.0)
        assert same is first
    assert first.hits == 10
    assert first.box == box(190, 100)


def test_two_faces_two_tracks_and_each_keeps_its_own() -> None:
    tracker = Tracker()
    a, b = tracker.update([box(0, 0), box(300, 0)], 0.0, 0.0)
    assert a.id != b.id
    # Reported in the other order: association follows overlap, not position in the list.
    b2, a2 = tracker.update([box(305, 0), box(5, 0)], 0.033, 0.0)
    assert (a2, b2) == (a, b)


def test_a_jump_starts_a_new_track() -> None:
    tracker = Tracker(iou_threshold=0.3)
    (first,) = tracker.update([box(0, 0)], 0.0, 0.0)
    (second,) = tracker.update([box(90, 0)], 0.033, 0.0)
    assert second is not first
    assert second.hits == 1


def test_a_face_that_left_is_forgotten_after_the_ttl() -> None:
    tracker = Tracker(ttl=0.5)
    (first,) = tracker.update([box(0, 0)], 0.0, 0.0)
    first.state = TrackState.UNMATCHED
    assert tracker.update([], 0.4, 0.0) == []
    assert tracker.tracks == [first]  # still within the ttl
    tracker.update([], 0.6, 0.0)
    assert tracker.tracks == []  # gone: nothing about that face is left
    (again,) = tracker.update([box(0, 0)], 0.7, 0.0)
    assert again is not first
    assert again.state is TrackState.PENDING


def test_a_track_holds_no_pixels_and_no_embedding() -> None:
    tracker = Tracker()
    (track,) = tracker.update([box(0, 0)], 0.0, 0.0)
    for name in (f.name for f in fields(Track)):
        assert not isinstance(getattr(track, name), np.ndarray), name
