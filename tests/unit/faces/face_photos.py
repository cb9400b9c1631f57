"""The project's sample photos (samples/faces) and what they show."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[3] / "samples" / "faces"

#: Single-identity photos (path relative to DATA -> who).
SINGLES = {
    "obama/obama_small.jpg": "obama",
    "obama/obama_240p.jpg": "obama",
    "obama/obama_4.jpg": "obama",
    "kit_harington/kit_harington_1.jpg": "kit_harington",
    "kit_harington/kit_harington_2.jpg": "kit_harington",
    "rose_leslie/rose_leslie_1.jpg": "rose_leslie",
    "alex_lacamoire/alex_lacamoire_1.png": "alex_lacamoire",
}
PARTIAL_FACES = ["edge/obama_partial_face_1.jpg", "edge/obama_partial_face_2.jpg"]
GROUP = "group/kit_harington_and_rose_leslie.jpg"

#: EXIF orientation 6 means "rotate 90 degrees clockwise to display".
ORIENTATION_TAG = 0x0112
