"""The pieces the fault tests share: a served app that can be cut and started again on the same
port, and a poll-until helper.

``tests/support/served_app.py`` runs the app for the length of a ``with`` block; a fault test
needs to stop it mid-test (as a crash or a network cut would) and bring it back at the same
address, so that clients keep their URL. Output goes to a log file, never to an unread pipe
that could fill up and stall the server under load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import httpx

from support.served_app import free_port

T = TypeVar("T")


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
