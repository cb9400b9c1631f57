"""Faces: read an image, find faces, check their quality, turn them into embeddings, compare.

This package is the only importer of face_recognition and dlib, and imports them lazily (in
``engine``), so importing ``optin.faces`` is cheap. Embeddings are float64 arrays of 128 values,
read-only; they are biometric data and must never be logged.
"""

from __future__ import annotations

from optin.faces.compare import DEFAULT_THRESHOLD, face_distance, is_match
from optin.faces.engine import warm_up
from optin.faces.images import ACCEPTED_FORMATS, ImageSource, RGBImage, load_image
from optin.faces.pipeline import NO_FACE, SEVERAL_FACES, analyse, enrollment_template, single_face
from optin.faces.quality import BLURRY, CUT_OFF, TOO_SMALL, QualityThresholds
from optin.faces.results import EMBEDDING_SIZE, DetectedFace, Embedding, FaceBox, QualityReport

__all__ = [
    "ACCEPTED_FORMATS",
    "BLURRY",
    "CUT_OFF",
    "DEFAULT_THRESHOLD",
    "EMBEDDING_SIZE",
    "NO_FACE",
    "SEVERAL_FACES",
    "TOO_SMALL",
    "DetectedFace",
    "Embedding",
    "FaceBox",
    "ImageSource",
    "QualityReport",
    "QualityThresholds",
    "RGBImage",
    "analyse",
    "enrollment_template",
    "face_distance",
    "is_match",
    "load_image",
    "single_face",
    "warm_up",
]
