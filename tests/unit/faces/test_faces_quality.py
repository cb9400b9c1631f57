"""Detection and the enrollment quality gate, on real photos and derived copies."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from face_photos import GROUP, PARTIAL_FACES, SINGLES
from PIL import Image

from optin import faces
from optin.config import FaceSettings
from optin.errors import FaceQualityRejected, OptinError

Analysed = Callable[[Path], list[faces.DetectedFace]]

#: The full shared fixture set lies beside the project on development machines.
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "faces"


def rejection(path: Path) -> FaceQualityRejected:
    with pytest.raises(FaceQualityRejected) as excinfo:
        faces.enrollment_template(path)
    return excinfo.value


@pytest.mark.parametrize("name", list(SINGLES))
def test_every_single_identity_photo_passes_enrollment(
    templates: dict[str, faces.DetectedFace | OptinError], name: str
) -> None:
    template = templates[name]
    assert isinstance(template, faces.DetectedFace), template
    assert template.quality.passed
    assert template.quality.reasons == ()
    assert template.embedding.shape == (faces.EMBEDDING_SIZE,)
    assert template.embedding.dtype == np.float64


@pytest.mark.parametrize("name", PARTIAL_FACES)
def test_partial_faces_are_rejected_as_cut_off(
    data_dir: Path, analysed: Analysed, name: str
) -> None:
    # The detector still finds the face: only the quality check can refuse it.
    found = analysed(data_dir / name)
    assert len(found) == 1
    assert found[0].quality.border_margin < 0
    assert found[0].quality.reasons == (faces.CUT_OFF,)

    error = rejection(data_dir / name)
    assert error.reason == faces.CUT_OFF
    assert "cut off at the image border" in error.detail


def test_group_photo_is_rejected_as_several_faces(data_dir: Path, analysed: Analysed) -> None:
    found = analysed(data_dir / GROUP)
    assert len(found) == 2
    assert all(face.quality.passed for face in found)  # good faces, just too many of them
    error = rejection(data_dir / GROUP)
    assert error.reason == faces.SEVERAL_FACES
    assert "2 faces" in error.detail


def test_blurred_copy_is_rejected_as_blurry(
    data_dir: Path, derived: dict[str, Path], analysed: Analysed
) -> None:
    sharp = analysed(data_dir / "kit_harington/kit_harington_1.jpg")[0].quality.blur
    blurred = analysed(derived["blurred"])
    assert len(blurred) == 1
    assert blurred[0].quality.blur < 30 < sharp
    assert rejection(derived["blurred"]).reason == faces.BLURRY


def test_image_without_face_is_rejected(derived: dict[str, Path], analysed: Analysed) -> None:
    assert analysed(derived["no_face"]) == []
    error = rejection(derived["no_face"])
    assert error.reason == faces.NO_FACE
    assert error.detail == "no face found in the image"


def test_tiny_face_is_rejected_as_too_small(derived: dict[str, Path]) -> None:
    error = rejection(derived["tiny_face"])
    assert error.reason == faces.TOO_SMALL
    # A lower minimum from the settings lets the same face through.
    template = faces.enrollment_template(derived["tiny_face"], FaceSettings(min_face_pixels=40))
    assert template.quality.face_width < 60


def test_exif_rotated_photo_still_finds_the_face(
    data_dir: Path, derived: dict[str, Path], analysed: Analysed
) -> None:
    # Sanity check: the stored pixels alone show no face to the detector.
    lying = np.asarray(Image.open(derived["rotated"]).convert("RGB"))
    assert faces.analyse(lying) == []

    found = analysed(derived["rotated"])
    assert len(found) == 1
    original = analysed(data_dir / "obama/obama_small.jpg")[0]
    assert faces.face_distance(found[0].embedding, original.embedding) < 0.2


def test_large_image_is_detected_on_a_downscaled_copy(
    data_dir: Path, derived: dict[str, Path], analysed: Analysed
) -> None:
    found = analysed(derived["large"])
    assert len(found) == 1
    # The box is in the large image's pixels, five times the original's.
    original = analysed(data_dir / "obama/obama_small.jpg")[0]
    assert found[0].box.width == pytest.approx(5 * original.box.width, rel=0.15)
    assert faces.face_distance(found[0].embedding, original.embedding) < 0.15


def test_faces_are_returned_with_boxes_inside_the_image(data_dir: Path, analysed: Analysed) -> None:
    for name in PARTIAL_FACES:
        height, width = faces.load_image(data_dir / name).shape[:2]
        box = analysed(data_dir / name)[0].box
        assert 0 <= box.left < box.right <= width
        assert 0 <= box.top < box.bottom <= height


def test_embedding_is_read_only_and_never_in_repr(templates: dict[str, object]) -> None:
    template = templates["obama/obama_small.jpg"]
    assert isinstance(template, faces.DetectedFace)
    assert not template.embedding.flags.writeable
    assert "embedding" not in repr(template)


def test_importing_faces_does_not_load_face_recognition() -> None:
    code = (
        "import sys, optin.faces, optin.cli; "
        "print(sorted(m for m in ('face_recognition', 'dlib') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="shared face fixtures not beside the project")
def test_all_shared_single_identity_fixtures_pass_and_partial_faces_fail() -> None:
    rows = (SHARED / "manifest.csv").read_text(encoding="utf-8").splitlines()[1:]
    for row in rows:
        path, _identities, count, _notes = row.split(",", 3)
        if not path.endswith((".jpg", ".png")) or path.startswith("edge/rgba"):
            continue
        if path.startswith("edge/obama_partial_face"):
            assert rejection(SHARED / path).reason == faces.CUT_OFF
        elif count == "1":
            assert faces.enrollment_template(SHARED / path).quality.passed, path
        else:
            assert rejection(SHARED / path).reason == faces.SEVERAL_FACES, path
