"""What the browser tests share: the live app's facts, the fake camera, timeouts and photos."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from optin.config import Settings
from optin.runtime import Keys

from support import video
from support.smtp import SmtpServer

CHROMIUM = Path("/usr/bin/chromium")
SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "faces"
VENUES = (("onsen-hotel", "Onsen Hotel Shirahama"), ("adventure-park", "Adventure Park"))

#: Every wait in these tests is bounded: a fake camera fed a bad file waits forever.
TIMEOUT_MS = 30_000
PHONE = {"width": 360, "height": 740}

#: The fake camera's timeline. The page opens the camera, shows live hints while the person
#: looks straight for at least 1.5 s (enroll.js LOOK_MIN_MS), then takes 8 frames 250 ms apart;
#: measured here, the first frame is taken about 1.7 s into the video. The video looks straight
#: for 2.5 s, turns over 1 s, then holds the turned head. Judged offline with the real judge,
#: captures starting anywhere from 1.0 s to 2.6 s pass for both photos and both directions
#: (earlier ones see too little turn, later ones no frontal face).
CAMERA_FPS = 10
LOOK_SECONDS = 2.5
TURN_FRAMES = 10  # one second at CAMERA_FPS
HOLD_SECONDS = 5.0


@dataclass
class LiveApp:
    url: str
    settings: Settings
    keys: Keys
    smtp: SmtpServer
    #: language -> the notice published in it
    notices: dict[str, NoticeFacts] = field(default_factory=dict)


@dataclass(frozen=True)
class NoticeFacts:
    id: str
    sha256: str
    version: int


@dataclass
class FakeCamera:
    """The file Chromium was launched with (``--use-file-for-fake-video-capture``)."""

    path: Path

    def show(self, frames: list[video.Frame]) -> None:
        """Replace the camera's video, one frame per tick at CAMERA_FPS (written atomically)."""
        header = video.y4m_header(video.WIDTH, video.HEIGHT, CAMERA_FPS)
        encoded: dict[int, bytes] = {}
        partial = self.path.with_name(self.path.name + ".partial")
        with partial.open("wb") as out:
            out.write(header)
            for frame in frames:
                # Held frames are the same array: convert each distinct one once.
                if id(frame) not in encoded:
                    encoded[id(frame)] = video.to_yuv420(frame)
                out.write(video.FRAME_HEADER)
                out.write(encoded[id(frame)])
        partial.replace(self.path)

    def show_head_turn(self, photo: Path, action: str, *, start_degrees: float = 0.0) -> None:
        """A person looking straight, then turning as the challenge asks (``turn-left``: their
        own left, which in the unmirrored camera picture moves the nose to the right)."""
        direction: video.Direction = "left" if action == "turn-left" else "right"
        turn = video.head_turn_frames(
            photo, direction, TURN_FRAMES + 1, hold=1, start_degrees=start_degrees
        )
        look, moving, held = turn[0], turn[1:], turn[-1]
        frames = [look] * round(LOOK_SECONDS * CAMERA_FPS) + moving
        frames += [held] * round(HOLD_SECONDS * CAMERA_FPS)
        self.show(frames)


#: The ``new_page`` fixture: ``with new_page(locale="ja-JP") as page: ...``
NewPage = Callable[..., AbstractContextManager[Any]]

_T = TypeVar("_T")


def run_async(coroutine: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run a coroutine to the end in a thread of its own.

    Playwright's sync API drives its event loop from this thread (in a greenlet), so
    ``asyncio.run`` here would find a loop running; the database helpers use this instead.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coroutine())).result(timeout=60)


async def _publish(settings: Settings, keys: Keys) -> dict[str, NoticeFacts]:
    """The two venues and a notice naming both, in every language."""
    from optin.db.engine import create_engine, session_factory
    from optin.services.notices import publish_notices
    from optin.services.venues import create_venue

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


@contextmanager
def start_live_app(data: Path, env: Mapping[str, str] | None = None) -> Iterator[LiveApp]:
    """A fresh data directory and SQLite database with two venues and a published notice, a
    real SMTP server, and the app served by uvicorn in a thread; ``env`` adds OPTIN_* settings."""
    from enrollment_app.asgi import create_app
    from optin.db.migrate import upgrade
    from optin.runtime import open_keys

    from support.smtp import start_smtp_server

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
                **(env or {}),
                **smtp.env(),
            }
        )
        settings.ensure_data_dir()
        upgrade(settings.database_url)
        keys = open_keys(settings)
        notices = run_async(lambda: _publish(settings, keys))
        with _serve(create_app(settings), sock):
            yield LiveApp(
                url=f"http://127.0.0.1:{port}",
                settings=settings,
                keys=keys,
                smtp=smtp,
                notices=notices,
            )
