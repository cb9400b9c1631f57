"""The app served for real: `optin serve` in a subprocess on 127.0.0.1, a free port.

Tests that need real concurrency (a long-poll held open while something else happens) or real
HTTP between processes use it; Litestar's in-process test client runs one request at a time.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served(
    env: Mapping[str, str], timeout: float = 60.0, log_path: Path | None = None
) -> Iterator[str]:
    """Run ``optin serve`` with ``env`` (OPTIN_* settings) and yield its base URL.

    Its output (one JSON log line per request) goes to ``log_path``, or a temporary file: never
    a pipe nobody reads, which would stall the server once full.
    """
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OPTIN_")}
    full_env.update(env)
    output = (
        log_path.open("w+", encoding="utf-8")
        if log_path is not None
        else tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed below
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "optin", "serve", "--port", str(port)],
        env=full_env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"optin serve exited early:\n{_read(output)}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("optin serve did not start in time")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        output.close()


def _read(output: IO[str]) -> str:
    output.seek(0)
    return output.read()
