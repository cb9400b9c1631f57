"""After an enrollment, the selfie exists nowhere: not in the database, the data directory,
temporary files or the logs; and the template is stored only as ciphertext."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy.engine import make_url

from optin import faces

from support.enrollment_world import SAMPLES, EnrollmentWorld

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _big_selfie() -> bytes:
    """Larger than Litestar's 1 MB spool limit, so a disk-spooling parser would be caught."""
    photo = Image.open(SAMPLES / "obama" / "obama_4.jpg").convert("RGB")
    big = photo.resize((photo.width * 3, photo.height * 3))
    noise = np.random.default_rng(7).integers(0, 6, (big.height, big.width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(big) + noise).save(buffer, "JPEG", quality=97)
    data = buffer.getvalue()
    assert len(data) > 1024 * 1024
    return data


def _files_under(root: Path, since: float) -> list[Path]:
    found = []
    for directory, _dirs, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            try:
                if path.is_file() and path.stat().st_mtime >= since:
                    found.append(path)
            except OSError:
                continue
    return found


def _chunks(data: bytes) -> list[bytes]:
    # Distinctive slices from the middle of the compressed data: any stored copy contains them.
    middle = len(data) // 2
    return [data[middle : middle + 48], data[len(data) // 3 : len(data) // 3 + 48]]


async def test_selfie_and_template_leave_no_trace(
    world: EnrollmentWorld, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Unnamed temporary files (a spooled upload rolling over to disk) never show up in a
    # directory listing, so catch their creation itself.
    created: list[str] = []

    def refuse(name: str, original: object) -> object:
        def spy(*args: object, **kwargs: object) -> object:
            created.append(name)
            return original(*args, **kwargs)  # type: ignore[operator]

        return spy

    for name in ("mkstemp", "TemporaryFile", "NamedTemporaryFile", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, refuse(name, getattr(tempfile, name)))
    monkeypatch.setattr(
        tempfile.SpooledTemporaryFile,
        "rollover",
        refuse("SpooledTemporaryFile.rollover", tempfile.SpooledTemporaryFile.rollover),
    )
    selfie = _big_selfie()
    embedding = faces.enrollment_template(selfie, world.settings.faces).embedding
    started = time.time() - 1
    caplog.set_level(logging.DEBUG)
    response = await world.client.post(
        "/api/v1/enrollments",
        data={
            "notice_id": world.notices["en"],
            "locale": "en",
            "email": "visitor@example.org",
            "purposes": ["entry"],
            "venues": ["onsen-hotel"],
            "trip_end": (date.today() + timedelta(days=2)).isoformat(),
        },
        files={"photo": ("selfie.jpg", selfie, "image/jpeg")},
    )
    assert response.status_code == 201, response.text
    assert created == [], f"temporary files were created while enrolling: {created}"

    needles = [*_chunks(selfie), np.asarray(embedding, "<f4").tobytes()[:32]]
    needles.append(np.asarray(embedding, "<f8").tobytes()[:32])

    places: list[Path] = _files_under(world.settings.data_dir, 0)
    database = make_url(world.settings.database_url).database
    if database:
        places += [p for p in Path(database).parent.iterdir() if p.is_file()]
    places += _files_under(Path(tempfile.gettempdir()), started)
    assert places, "nothing scanned"
    for path in places:
        try:
            content = path.read_bytes()
        except OSError:
            continue
        for needle in needles:
            assert needle not in content, f"selfie or template bytes found in {path}"
        if path.is_relative_to(world.settings.data_dir):
            assert JPEG_MAGIC + b"\xe0" not in content, path
            assert PNG_MAGIC not in content, path

    # The product's own loggers (the test's SMTP server logs what it receives, by design).
    ours = ("optin", "enrollment_app", "litestar", "sqlalchemy", "httpx", "uvicorn", "multipart")
    logged = "\n".join(
        record.getMessage() for record in caplog.records if record.name.startswith(ours)
    )
    assert logged, "no log records captured: the check would prove nothing"
    assert "visitor@example.org" not in logged
    assert str(float(embedding[0]))[:8] not in logged
