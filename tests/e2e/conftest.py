"""Browser tests: the real app over HTTP on 127.0.0.1, headless Chromium with a fake camera.

- ``live_app`` (module): a fresh data directory and SQLite database with two venues and a
  published notice, a real SMTP server (aiosmtpd), and the app served by uvicorn in a thread.
- ``camera`` (module): the Y4M file Chromium plays as its camera. Every ``getUserMedia`` starts
  it again from its first frame and re-reads it, so a test writes the head turn the page asks
  for after reading the challenge and before pressing Start.
- ``browser`` (module): Chromium (``/usr/bin/chromium``) launched by Playwright's sync API with
  the flags in RECIPES.md. Missing Chromium skips the tests, except when ``CI`` is set.
- ``new_page(locale)``: a fresh 360 px wide context (a phone) with every wait bounded.

Everything is module-scoped and torn down after the module, so Playwright's own event loop never
overlaps the asyncio tests that run later in the same session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_support import (
    CHROMIUM,
    PHONE,
    TIMEOUT_MS,
    FakeCamera,
    LiveApp,
    NewPage,
    start_live_app,
)

from support import video


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if _in_ci():
            pytest.fail(f"browser tests need {CHROMIUM} in CI (apt-get install chromium)")
        pytest.skip(f"browser tests need {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    from optin import faces

    faces.warm_up()  # the models load once (about a second), not during the first check
    with start_live_app(tmp_path_factory.mktemp("e2e") / "data") as app:
        yield app


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> FakeCamera:
    fake = FakeCamera(tmp_path_factory.mktemp("camera").resolve() / "camera.y4m")
    # Something valid from the start: Chromium refuses a camera whose file is missing.
    fake.show([np.zeros((video.HEIGHT, video.WIDTH, 3), dtype=np.uint8)])
    return fake


@pytest.fixture(scope="module")
def browser(chromium: Path, camera: FakeCamera) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium),
            headless=True,
            timeout=TIMEOUT_MS,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera.path}",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser: Any, live_app: LiveApp) -> NewPage:
    """``with new_page(locale="ja-JP") as page:`` a phone-sized page; ``locale`` also sets the
    browser's Accept-Language."""

    @contextmanager
    def opened(locale: str = "en-US") -> Iterator[Any]:
        context = browser.new_context(
            viewport=PHONE,
            locale=locale,
            base_url=live_app.url,
            accept_downloads=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        try:
            yield context.new_page()
        finally:
            context.close()

    return opened
