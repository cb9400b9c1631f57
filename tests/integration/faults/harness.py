"""The pieces the fault tests share: a served app that can be cut and started again on the same
port, a poll-until helper, the world they start from (Lin-Manuel Miranda enrolled, a gate
registered) and what the server stored of the gate's events.

``tests/support/served_app.py`` runs the app for the length of a ``with`` block; a fault test
needs to stop it mid-test (as a crash or a network cut would) and bring it back at the same
address, so that clients keep their URL. Output goes to a log file, never to an unread pipe
that could fill up and stall the server under load.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import func, select

from optin.db.engine import create_engine, session_factory
from optin.db.models import Event

from support.enrollment_world import EnrollmentWorld
from support.fake_agent_api import LIN_MANUEL
from support.served_app import free_port

T = TypeVar("T")

VENUE = "onsen-hotel"


class App:
    """``optin serve`` in a subprocess on a port of its own, which survives ``stop``/``start``."""

    def __init__(self, env: Mapping[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
        self._env.update(env)
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 60.0) -> float:
        """Start it and wait until /healthz answers; the seconds that took."""
        began = time.monotonic()
        with self._log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "optin", "serve", "--port", str(self.port)],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = began + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"optin serve exited early:\n{self.log()[-3000:]}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - began
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"optin serve did not start in time:\n{self.log()[-3000:]}")
            time.sleep(0.05)

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (uvicorn's graceful stop, bounded) or SIGKILL (a crash, a pulled cable)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""


def wait_until(condition: Callable[[], T], within: float, what: str, every: float = 0.01) -> T:
    """Poll ``condition`` until it returns something true; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        time.sleep(every)


async def enroll_and_register_gate(world: EnrollmentWorld) -> tuple[uuid.UUID, uuid.UUID, str]:
    """Lin-Manuel Miranda enrolled for entry at the venue, and a gate there: (subject, gate,
    token). The photo is the one ``support.photo_camera.PhotoCamera`` shows."""
    enrolled = await world.enroll(
        LIN_MANUEL, email="lin@example.org", purposes=("entry",), venues=(VENUE,), stay_days=3
    )
    gate, token = await world.register_gate(VENUE)
    return uuid.UUID(enrolled["subject_id"]), gate.id, token


async def stored_events(database_url: str) -> dict[str, int]:
    """The events the server stored, by the gate's event id, with how many rows each has."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.execute(
                select(Event.idempotency_key, func.count()).group_by(Event.idempotency_key)
            )
            return {key.split(":", 1)[1]: int(count) for key, count in rows.all()}
    finally:
        await engine.dispose()


class Proxy:
    """Real HTTP between a gate and the server, which can hold back the server's answer to the
    next events batch (stored by the server, not yet known to the gate: the moment a kill
    makes a resend necessary) and delay the answer to a gallery request that does not wait."""

    def __init__(self, upstream: str) -> None:
        self.hold_next_events = threading.Event()
        self.holding = threading.Event()  # an answer to an events batch is held now
        self.held_ids: list[str] = []  # the event ids of that batch
        self.release = threading.Event()
        #: Seconds the answer to the next gallery request that does not wait is held back.
        self.gallery_delay = 0.0
        self.delayed_gallery_answered = threading.Event()
        self._upstream = httpx.Client(base_url=upstream, timeout=60)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._upstream.close()

    def _forward(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Any:
        delay = 0.0
        if path.split("?")[0].endswith("/gallery") and "wait=0" in path:
            with self._lock:
                delay, self.gallery_delay = self.gallery_delay, 0.0
        time.sleep(delay)
        forwarded = {k: v for k, v in headers.items() if k.lower() not in _HOP_HEADERS}
        response = self._upstream.request(method, path, headers=forwarded, content=body)
        if method == "POST" and path.endswith("/events") and response.is_success:
            with self._lock:
                hold = self.hold_next_events.is_set() and not self.holding.is_set()
                if hold:
                    self.held_ids = [event["id"] for event in json.loads(body)["events"]]
                    self.holding.set()
            if hold:
                self.release.wait(60)
        if delay:
            self.delayed_gallery_answered.set()
        return response

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                response = proxy._forward(self.command, self.path, dict(self.headers), body)
                try:
                    self.send_response(response.status_code)
                    for name, value in response.headers.items():
                        if name.lower() not in _HOP_HEADERS:
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(response.content)))
                    self.end_headers()
                    self.wfile.write(response.content)
                except OSError:
                    pass  # the gate is gone (killed while waiting for this answer)

            do_GET = do_POST = _relay  # noqa: N815

        return Handler


_HOP_HEADERS = frozenset(
    {"host", "connection", "content-length", "transfer-encoding", "keep-alive", "content-encoding"}
)
