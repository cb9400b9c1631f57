"""Reading untrusted image files into RGB arrays, with size limits checked before decoding."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from optin.config import FaceSettings
from optin.errors import ImageRejected

#: An RGB image: height x width x 3, uint8, C-contiguous (what dlib wants).
RGBImage: TypeAlias = npt.NDArray[np.uint8]

#: Raw image bytes, a path to an image file, or an already decoded RGB array.
ImageSource: TypeAlias = bytes | str | os.PathLike[str] | RGBImage

#: Only these decoders run on untrusted input; Pillow would otherwise also try formats such as
#: EPS, which hands the file to Ghostscript.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")

_BACKGROUND = (255, 255, 255)


def load_image(source: ImageSource, settings: FaceSettings | None = None) -> RGBImage:
    """Decode ``source`` into an RGB array, EXIF orientation applied.

    Raises ImageRejected with ``reason`` "unreadable", "not-an-image" or "too-large".
    """
    settings = settings or FaceSettings()
    if isinstance(source, np.ndarray):
        return _checked_array(source, settings)
    data = source if isinstance(source, bytes) else _read_file(Path(source), settings)
    if len(data) > settings.max_image_bytes:
        raise _too_large(f"{len(data)} bytes", f"{settings.max_image_bytes} bytes")
    return _decode(data, settings)


def _read_file(path: Path, settings: FaceSettings) -> bytes:
    limit = settings.max_image_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise _too_large(f"{size} bytes", f"{limit} bytes")
        with path.open("rb") as file:
            # One byte more than allowed tells an oversized file (or a device) without reading it.
            return file.read(limit + 1)
    except OSError as exc:
        raise ImageRejected(
            f"cannot read the file: {exc.strerror or exc}", reason="unreadable"
        ) from None


def _decode(data: bytes, settings: FaceSettings) -> RGBImage:
    with warnings.catch_warnings():
        # We enforce our own pixel limit below; Pillow's warning would only be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
        except Image.DecompressionBombError:
            raise _too_large("too many pixels", f"{settings.max_image_pixels} pixels") from None
        except UnidentifiedImageError:
            raise ImageRejected(
                f"not an image (accepted formats: {', '.join(ACCEPTED_FORMATS)})",
                reason="not-an-image",
            ) from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise _unreadable(exc) from None
        with image:
            width, height = image.size
            if width * height > settings.max_image_pixels:
                raise _too_large(f"{width}x{height} pixels", f"{settings.max_image_pixels} pixels")
            if width == 0 or height == 0:
                raise ImageRejected("the image is empty", reason="unreadable")
            try:
                image.load()  # decodes now, so a truncated file fails here and not later
                upright = ImageOps.exif_transpose(image)
                return _to_rgb_array(upright)
            except Image.DecompressionBombError:
                raise _too_large("too many pixels", f"{settings.max_image_pixels} pixels") from None
            except (OSError, ValueError, SyntaxError, EOFError) as exc:
                raise _unreadable(exc) from None


def _to_rgb_array(image: Image.Image) -> RGBImage:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: keep the high byte rather than let convert() clip at 255.
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        # Transparent pixels carry arbitrary colour; put them on white as a viewer would.
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        image = Image.alpha_composite(backdrop, rgba)
    rgb = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8))


def _checked_array(array: RGBImage, settings: FaceSettings) -> RGBImage:
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise ImageRejected(
            f"expected an RGB uint8 array of shape (height, width, 3), got {array.dtype} "
            f"{array.shape}",
            reason="unreadable",
        )
    height, width = array.shape[:2]
    if width * height > settings.max_image_pixels:
        raise _too_large(f"{width}x{height} pixels", f"{settings.max_image_pixels} pixels")
    if width == 0 or height == 0:
        raise ImageRejected("the image is empty", reason="unreadable")
    return np.ascontiguousarray(array)


def _too_large(actual: str, limit: str) -> ImageRejected:
    return ImageRejected(f"image too large ({actual}; the limit is {limit})", reason="too-large")


def _unreadable(exc: BaseException) -> ImageRejected:
    return ImageRejected(f"unreadable image ({exc})", reason="unreadable")
