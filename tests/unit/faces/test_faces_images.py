"""Reading images: formats, modes, EXIF orientation, limits and broken input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from optin.config import FaceSettings
from optin.errors import ImageRejected
from optin.faces import load_image, warm_up


def reason(exc: ImageRejected) -> str:
    return str(exc.extra["reason"])


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def assert_rgb(array: np.ndarray, height: int, width: int) -> None:
    assert array.shape == (height, width, 3)
    assert array.dtype == np.uint8
    assert array.flags.c_contiguous


def test_jpeg_from_path_and_bytes(data_dir: Path) -> None:
    path = data_dir / "obama/obama_small.jpg"
    from_path = load_image(path)
    assert_rgb(from_path, 240, 320)
    assert np.array_equal(from_path, load_image(path.read_bytes()))
    assert np.array_equal(from_path, load_image(str(path)))


def test_rgba_png_becomes_rgb(data_dir: Path) -> None:
    assert_rgb(load_image(data_dir / "alex_lacamoire/alex_lacamoire_1.png"), 394, 424)


def test_transparent_pixels_become_white(derived: dict[str, Path]) -> None:
    array = load_image(derived["transparent"])
    assert_rgb(array, 320, 400)
    assert (array[:40, :40] == 255).all()


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "LA", "I;16", "RGB"])
def test_any_mode_becomes_rgb(mode: str) -> None:
    source = Image.new("RGB", (30, 20), (200, 100, 50))
    if mode == "P":
        image = source.convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode == "I;16":
        image = source.convert("I;16")
    else:
        image = source.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    array = load_image(buffer.getvalue())
    assert_rgb(array, 20, 30)
    assert array.std(axis=(0, 1)).max() < 3  # still one flat colour, not noise


def test_exif_orientation_is_applied(data_dir: Path, derived: dict[str, Path]) -> None:
    upright = load_image(data_dir / "obama/obama_small.jpg")
    turned = load_image(derived["rotated"])
    assert turned.shape == upright.shape  # 240x320 again, not the stored 320x240
    assert np.abs(turned.astype(int) - upright.astype(int)).mean() < 8


def test_array_input_is_checked() -> None:
    frame = np.zeros((10, 12, 3), dtype=np.uint8)
    assert load_image(frame).shape == (10, 12, 3)
    with pytest.raises(ImageRejected) as excinfo:
        load_image(np.zeros((10, 12), dtype=np.uint8))
    assert reason(excinfo.value) == "unreadable"


def test_too_many_bytes_rejected_before_reading(data_dir: Path) -> None:
    path = data_dir / "obama/obama_small.jpg"
    settings = FaceSettings(max_image_bytes=1000)
    for source in (path, path.read_bytes()):
        with pytest.raises(ImageRejected, match="too large") as excinfo:
            load_image(source, settings)
        assert reason(excinfo.value) == "too-large"


def test_too_many_pixels_rejected_before_decoding(derived: dict[str, Path]) -> None:
    # The truncated file would fail to decode; "too-large" proves the size came first.
    with pytest.raises(ImageRejected, match="320x240 pixels") as excinfo:
        load_image(derived["truncated"], FaceSettings(max_image_pixels=10_000))
    assert reason(excinfo.value) == "too-large"


def test_decompression_bomb_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pillow refuses images over twice its own limit while opening them; lower that limit
    # instead of building a real bomb.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    data = png_bytes(Image.new("RGB", (40, 40)))
    with pytest.raises(ImageRejected) as excinfo:
        load_image(data, FaceSettings(max_image_pixels=10**9))
    assert reason(excinfo.value) == "too-large"


@pytest.mark.parametrize(
    ("name", "expected_reason", "message"),
    [
        ("text", "not-an-image", "not an image"),
        ("gif", "not-an-image", "not an image"),
        ("truncated", "unreadable", "truncated"),
    ],
)
def test_broken_input_rejected_with_reason(
    derived: dict[str, Path], name: str, expected_reason: str, message: str
) -> None:
    with pytest.raises(ImageRejected, match=message) as excinfo:
        load_image(derived[name])
    assert reason(excinfo.value) == expected_reason


def test_truncated_file_still_rejected_after_models_load(derived: dict[str, Path]) -> None:
    # face_recognition switches on Pillow's global LOAD_TRUNCATED_IMAGES when imported.
    warm_up()
    with pytest.raises(ImageRejected, match="truncated"):
        load_image(derived["truncated"])


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ImageRejected) as excinfo:
        load_image(b"")
    assert reason(excinfo.value) == "not-an-image"
    with pytest.raises(ImageRejected, match="cannot read") as excinfo:
        load_image(tmp_path / "missing.jpg")
    assert reason(excinfo.value) == "unreadable"
