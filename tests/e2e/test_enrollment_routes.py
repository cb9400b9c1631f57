"""The enrollment page's routes and its hint endpoint over real HTTP (no browser needed)."""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from browser_support import SAMPLES, LiveApp
from PIL import Image

from optin.config import Settings
from optin.db.migrate import upgrade
from optin.faces import engine
from optin.i18n import HTML_LANG, SUPPORTED, error_message, messages, translator

from support import video

KIT = SAMPLES / "kit_harington" / "kit_harington_1.jpg"
GROUP = SAMPLES / "group" / "kit_harington_and_rose_leslie.jpg"


def _get(app: LiveApp, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(f"{app.url}{path}", timeout=10, follow_redirects=False, **kwargs)


def _hint(app: LiveApp, frame: bytes, **fields: str) -> httpx.Response:
    return httpx.post(
        f"{app.url}/api/v1/liveness/hints",
        data={"locale": "en", **fields},
        files={"frame": ("frame.jpg", frame, "image/jpeg")},
        timeout=30,
    )


def _jpeg(frame: np.ndarray) -> bytes:
    return video.jpeg_frames([frame])[0]


@pytest.mark.parametrize(
    ("header", "query", "target"),
    [
        ("ja-JP,ja;q=0.9,en;q=0.8", "", "/ja/enroll"),
        ("zh-TW,zh;q=0.9", "", "/zh/enroll"),
        ("ko", "", "/ko/enroll"),
        ("fr-FR", "", "/en/enroll"),
        (None, "", "/en/enroll"),
        ("ja", "?lang=ko", "/ko/enroll"),
    ],
)
def test_enroll_redirects_to_the_browsers_language(
    live_app: LiveApp, header: str | None, query: str, target: str
) -> None:
    headers = {"Accept-Language": header} if header else {}
    response = _get(live_app, f"/enroll{query}", headers=headers)
    assert response.status_code == 302
    assert response.headers["location"] == target
    assert "Accept-Language" in response.headers["vary"]


@pytest.mark.parametrize("lang", SUPPORTED)
def test_every_language_shows_its_notice_and_nothing_ticked(live_app: LiveApp, lang: str) -> None:
    response = _get(live_app, f"/{lang}/enroll")
    assert response.status_code == 200
    assert response.headers["content-language"] == HTML_LANG[lang]
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert f'<html lang="{HTML_LANG[lang]}">' in html
    assert f'name="notice_id" value="{live_app.notices[lang].id}"' in html
    assert html.count('type="checkbox"') == 4
    assert " checked" not in html
    t = translator(lang)
    assert t.gettext(messages.NOTHING_PRE_TICKED) in html
    assert t.gettext(messages.TICKET_REMAINS) in html
    # The operator's contact point in the footer of every page.
    assert live_app.settings.operator.contact_email in html
    # Ready for a strict CSP: no inline script (a JSON data block is not executed), no inline
    # style, no event-handler attributes.
    for script in re.findall(r"<script[^>]*>", html):
        assert "src=" in script or 'type="application/json"' in script, script
    assert " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)


def test_unknown_language_is_not_found(live_app: LiveApp) -> None:
    assert _get(live_app, "/fr/enroll").status_code == 404


def test_static_assets_are_served(live_app: LiveApp) -> None:
    html = _get(live_app, "/en/enroll").text
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        response = _get(live_app, asset)
        assert response.status_code == 200, asset


def _turned(frame: np.ndarray, degrees: float) -> np.ndarray:
    boxes = engine.detect(frame)
    (points,) = engine.landmarks(frame, boxes)
    return video.turn_head(frame, points.astype(np.float64), degrees)


@pytest.mark.parametrize(
    ("make_frame", "hint", "faces"),
    [
        (lambda: video.selfie(KIT, face_fraction=0.4), "ok", 1),
        (lambda: video.selfie(KIT, face_fraction=0.12), "move-closer", 1),
        (lambda: _turned(video.selfie(KIT, face_fraction=0.4), 35.0), "face-the-camera", 1),
        (lambda: video.letterbox(np.asarray(Image.open(GROUP).convert("RGB"))), "one-face-only", 2),
        (lambda: np.full((480, 640, 3), 200, dtype=np.uint8), "face-the-camera", 0),
    ],
    ids=["good", "far", "turned", "two-people", "nobody"],
)
def test_hints(
    live_app: LiveApp, make_frame: Callable[[], np.ndarray], hint: str, faces: int
) -> None:
    response = _hint(live_app, _jpeg(make_frame()), locale="ja")
    assert response.status_code == 200, response.text
    body = response.json()
    # Only the hint: no box, landmark, yaw or embedding leaves the server.
    assert set(body) == {"hint", "message", "faces"}
    assert body["hint"] == hint
    assert body["faces"] == faces
    assert any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in body["message"])


def test_hint_refusals_are_translated(live_app: LiveApp) -> None:
    frame = _jpeg(video.selfie(KIT))
    unknown = _hint(live_app, frame, locale="ko", loyalty_id="GOLD-1")
    assert unknown.status_code == 400
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["detail"] == error_message("invalid-input", "ko")
    garbage = _hint(live_app, b"not an image", locale="zh")
    assert garbage.status_code == 422
    assert garbage.json()["detail"] == error_message("image-rejected", "zh", reason="not-an-image")


def _noisy_png(side: int) -> bytes:
    noise = np.random.default_rng(3).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "PNG")
    return buffer.getvalue()


def test_hint_frames_stay_in_memory(live_app: LiveApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """A frame larger than Litestar's 1 MB spool limit is still never written to a temp file."""
    created: list[str] = []

    def spy(name: str, original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            created.append(name)
            return original(*args, **kwargs)

        return wrapper

    for name in ("mkstemp", "TemporaryFile", "NamedTemporaryFile", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, spy(name, getattr(tempfile, name)))
    monkeypatch.setattr(
        tempfile.SpooledTemporaryFile,
        "rollover",
        spy("rollover", tempfile.SpooledTemporaryFile.rollover),
    )
    frame = _noisy_png(800)
    assert 1024 * 1024 < len(frame) < 2 * 1024 * 1024
    response = _hint(live_app, frame)
    assert response.status_code == 200, response.text
    assert response.json()["hint"] == "face-the-camera"
    too_big = _hint(live_app, _noisy_png(1100))
    assert too_big.status_code == 413
    assert created == []


def test_without_a_published_notice_the_page_says_so(tmp_path: Path) -> None:
    from litestar.testing import TestClient

    from enrollment_app.asgi import create_app

    settings = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")})
    settings.ensure_data_dir()
    upgrade(settings.database_url)
    with TestClient(create_app(settings)) as client:
        response = client.get("/ja/enroll")
    assert response.status_code == 503
    assert error_message("configuration", "ja") in response.text
    assert 'type="checkbox"' not in response.text
