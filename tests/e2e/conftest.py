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
import socket
import threading
import time
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
    VENUES,
    FakeCamera,
    LiveApp,
    NewPage,
    NoticeFacts,
    run_async,
)

from optin.config import Settings
from optin.db.engine import create_engine, session_factory
from optin.db.migrate import upgrade
from optin.runtime import Keys, open_keys
from optin.services.notices import publish_notices
from optin.services.venues import create_venue

from support import video
from support.smtp import start_smtp_server


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists():
        if _in_ci():
            pytest.fail(f"browser tests need {CHROMIUM} in CI (apt-get install chromium)")
        pytest.skip(f"browser tests need {CHROMIUM} (apt-get install chromium)")
    return CHROMIUM


async def _publish(settings: Settings, keys: Keys) -> dict[str, NoticeFacts]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            venues = [
                await create_venue(session, keys.master, slug=slug, name=name)
                for slug, name in VENUES
            ]
            notices = await publish_notices(session, settings, venues)
            await session.commit()
            return {
                str(n.language): NoticeFacts(str(n.id), n.text_sha256, n.version) for n in notices
            }
    finally:
        await engine.dispose()


@contextmanager
def _serve(app: Any, sock: socket.socket) -> Iterator[None]:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start within 20 s")
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    from enrollment_app.asgi import create_app
    from optin import faces

    data = tmp_path_factory.mktemp("e2e") / "data"
    # The socket is bound first so the settings (links in mail, the portal URL) name its port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    with start_smtp_server() as smtp:
        settings = Settings.from_env(
            {
                "OPTIN_DATA_DIR": str(data),
                "OPTIN_HOST": "127.0.0.1",
                "OPTIN_PORT": str(port),
                **smtp.env(),
            }
        )
        settings.ensure_data_dir()
        upgrade(settings.database_url)
        keys = open_keys(settings)
        notices = run_async(lambda: _publish(settings, keys))
        faces.warm_up()  # the models load once (about a second), not during the first check
        with _serve(create_app(settings), sock):
            yield LiveApp(
                url=f"http://127.0.0.1:{port}",
                settings=settings,
                keys=keys,
                smtp=smtp,
                notices=notices,
            )


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
