"""Fixtures for the faces tests: the copied photos, derived images, cached analysis results.

Encoding costs about 0.1-0.4 s per photo, so every photo is analysed once per session.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from face_photos import DATA, ORIENTATION_TAG, SINGLES
from PIL import Image, ImageFilter

from optin import faces
from optin.errors import OptinError


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def analysed() -> Callable[[Path], list[faces.DetectedFace]]:
    """``analysed(path)``: faces.analyse, cached for the session."""
    cache: dict[Path, list[faces.DetectedFace]] = {}

    def run(path: Path) -> list[faces.DetectedFace]:
        if path not in cache:
            cache[path] = faces.analyse(path)
        return cache[path]

    return run


@pytest.fixture(scope="session")
def templates() -> dict[str, faces.DetectedFace | OptinError]:
    """The enrollment result (template or the error) of every single-identity photo."""
    results: dict[str, faces.DetectedFace | OptinError] = {}
    for name in SINGLES:
        try:
            results[name] = faces.enrollment_template(DATA / name)
        except OptinError as exc:
            results[name] = exc
    return results


@pytest.fixture(scope="session")
def derived(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Images made from the copies: rotated with an EXIF tag, blurred, face-less, and more."""
    folder = tmp_path_factory.mktemp("derived-faces")
    small = Image.open(DATA / "obama/obama_small.jpg")
    paths: dict[str, Path] = {}

    # Pixels stored lying on their side, with the tag that tells a viewer to turn them upright.
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6
    paths["rotated"] = folder / "rotated_exif.jpg"
    small.rotate(90, expand=True).save(paths["rotated"], exif=exif.tobytes(), quality=95)

    # Sigma of 3 % of the face width (126 px): well past the blur threshold.
    paths["blurred"] = folder / "blurred.png"
    kit = Image.open(DATA / "kit_harington/kit_harington_1.jpg")
    kit.filter(ImageFilter.GaussianBlur(4)).save(paths["blurred"])

    # The lower part of a portrait: suit, flag and curtains, no face.
    paths["no_face"] = folder / "no_face.png"
    Image.open(DATA / "edge/obama_partial_face_1.jpg").crop((0, 600, 491, 1137)).save(
        paths["no_face"]
    )

    # Half size: the face shrinks to about 52 px, under the 60 px minimum.
    paths["tiny_face"] = folder / "tiny_face.png"
    small.resize((160, 120), Image.Resampling.LANCZOS).save(paths["tiny_face"])

    # Five times larger than the detector's working size: detection runs on a downscaled copy.
    paths["large"] = folder / "large.png"
    small.resize((1600, 1200), Image.Resampling.BICUBIC).save(paths["large"])

    # RGBA with a transparent frame around the photo.
    paths["transparent"] = folder / "transparent.png"
    rgba = Image.new("RGBA", (small.width + 80, small.height + 80), (0, 0, 0, 0))
    rgba.paste(small.convert("RGBA"), (40, 40))
    rgba.save(paths["transparent"])

    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=95)
    paths["truncated"] = folder / "truncated.jpg"
    paths["truncated"].write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])

    paths["text"] = folder / "notes.jpg"
    paths["text"].write_text("this is not an image\n", encoding="utf-8")

    paths["gif"] = folder / "face.gif"
    small.save(paths["gif"])
    return paths
