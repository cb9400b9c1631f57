"""``optin faces``: encode and compare faces from image files.

Other parts of the product and outside scripts parse the ``--json`` output, so its shape is a
contract. Expected failures (unreadable file, not an image, no face, several faces...) exit with
code 2, one line per failure on stderr and an ``"error"`` and ``"reason"`` in the JSON; never a
traceback. Embeddings are printed only in the JSON, never in human output.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from optin.cli.common import EXIT_FAILED, echo_json
from optin.config import FaceSettings, Settings
from optin.errors import OptinError

if TYPE_CHECKING:
    from optin.faces import DetectedFace


class _ImageError(Exception):
    """An expected failure for one image: a stable reason code and a human message."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def faces() -> None:
    """Detect, quality-check, encode and compare faces in image files."""


@faces.command("encode")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per image.")
@click.option(
    "--enroll",
    is_flag=True,
    help="Apply the enrollment gate: exactly one face, and it must pass every quality check.",
)
def encode(images: tuple[str, ...], as_json: bool, enroll: bool) -> None:
    """Find the faces in each IMAGE and compute their 128-d embeddings.

    \b
    JSON: a list with one object per image:
      {"path": ..., "faces": [{"box": [top, right, bottom, left],
                               "embedding": [128 floats], "quality": {...}}]}
    A failed image has "error" and "reason" instead of "faces".

    Exits with 2 if any image failed: unreadable, not an image, no face; with --enroll also
    several faces or a failed quality check (too small, cut off, blurred).
    """
    from optin import faces as face_api

    settings = _face_settings()
    results: list[dict[str, Any]] = []
    for number, path in enumerate(images, start=1):
        if not as_json and len(images) > 1:
            click.echo(f"[{number}/{len(images)}] {path}", err=True)
        try:
            try:
                if enroll:
                    found = [face_api.enrollment_template(path, settings)]
                else:
                    found = face_api.analyse(path, settings)
            except (OptinError, OSError) as exc:
                raise _as_failure(exc) from None
            if not found:
                raise _ImageError(face_api.NO_FACE, "no face found in the image")
        except _ImageError as failure:
            _report(path, failure)
            results.append({"path": path, "error": failure.detail, "reason": failure.reason})
            if not as_json:
                click.echo(f"{path}: error: {failure.detail}")
            continue
        results.append({"path": path, "faces": [face.as_dict() for face in found]})
        if not as_json:
            click.echo(_describe_image(path, found))
    if as_json:
        echo_json(results)
    if any("error" in result for result in results):
        sys.exit(EXIT_FAILED)


@faces.command("verify")
@click.argument("image_a", metavar="A")
@click.argument("image_b", metavar="B")
@click.option("--json", "as_json", is_flag=True, help='Print {"distance", "match", "threshold"}.')
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 2.0, min_open=True, max_open=True),
    default=None,
    help="Largest distance still counted as the same person [default: OPTIN_MATCH_THRESHOLD "
    "or 0.6].",
)
def verify(image_a: str, image_b: str, as_json: bool, threshold: float | None) -> None:
    """Tell whether the single faces in images A and B are the same person.

    Each image must show exactly one face. Exit code 0 whether or not they match (read "match");
    2 if an image cannot be used.
    """
    from optin import faces as face_api

    settings = _face_settings()
    limit = settings.match_threshold if threshold is None else threshold
    embeddings = []
    for path in (image_a, image_b):
        try:
            embeddings.append(face_api.single_face(path, settings).embedding)
        except (OptinError, OSError) as exc:
            failure = _as_failure(exc)
            _report(path, failure)
            if as_json:
                echo_json({"path": path, "error": failure.detail, "reason": failure.reason})
            sys.exit(EXIT_FAILED)
    distance = face_api.face_distance(embeddings[0], embeddings[1])
    match = face_api.is_match(distance, limit)
    if as_json:
        echo_json({"distance": distance, "match": match, "threshold": limit})
    else:
        verdict = "match" if match else "no match"
        relation = "<=" if match else ">"
        click.echo(f"{verdict}: distance {distance:.3f} {relation} threshold {limit:g}")


def _face_settings() -> FaceSettings:
    try:
        return Settings.from_env().faces
    except OptinError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(EXIT_FAILED)


def _as_failure(exc: OptinError | OSError) -> _ImageError:
    if isinstance(exc, OptinError):
        return _ImageError(str(exc.extra.get("reason", exc.code)), exc.detail)
    return _ImageError("unreadable", f"cannot read the file: {exc.strerror or exc}")


def _report(path: str, failure: _ImageError) -> None:
    # One line, whatever the message: scripts read stderr line by line.
    line = f"error: {path}: {failure.detail} [{failure.reason}]"
    click.echo(" ".join(line.split()), err=True)


def _describe_image(path: str, found: list[DetectedFace]) -> str:
    lines = [f"{path}: {len(found)} face{'s' if len(found) != 1 else ''}"]
    for number, face in enumerate(found, start=1):
        quality = face.quality
        verdict = "ok" if quality.passed else ", ".join(quality.reasons)
        top, right, bottom, left = face.box.as_list()
        lines.append(
            f"  face {number}: box top={top} right={right} bottom={bottom} left={left}, "
            f"{quality.face_width}x{quality.face_height} px, blur {quality.blur:.0f}, "
            f"border margin {quality.border_margin:.2f}: {verdict}"
        )
    return "\n".join(lines)
