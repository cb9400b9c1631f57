"""``optin payments sandbox`` as a process: it logs no card data and stops with its parent."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from optin.cli.common import CommandFailed
from optin.cli.payments import sandbox_subprocess
from optin.payments.sandbox_server import CARD_DECLINED, CARD_OK

from support.served_app import free_port


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "the sandbox exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the sandbox did not start"
        time.sleep(0.05)


def test_no_card_number_or_token_reaches_its_output(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "sandbox.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "optin", "payments", "sandbox", "--port", str(port)],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(url, process)
            year = datetime.now(UTC).year + 2
            card = {"exp_month": 1, "exp_year": year, "cvc": "321"}
            token = httpx.post(f"{url}/v1/tokens", json={"number": CARD_OK, **card}).json()["token"]
            declined = httpx.post(f"{url}/v1/tokens", json={"number": CARD_DECLINED, **card})
            bad = httpx.post(f"{url}/v1/tokens", json={"number": "4242424242424241", **card})
            assert bad.status_code == 400
            httpx.get(f"{url}/v1/tokens/{token}")
            httpx.post(f"{url}/v1/_control", json={"fail_next": 1})
            for _ in range(2):
                httpx.post(
                    f"{url}/v1/payments",
                    json={"token": declined.json()["token"], "amount_minor": 5, "currency": "JPY"},
                    headers={"Idempotency-Key": "k"},
                )
        finally:
            process.terminate()
            process.wait(timeout=20)
    said = log.read_text()
    assert "listening on" in said
    for secret in (CARD_OK, CARD_DECLINED, "4242424242424241", token, "321"):
        assert secret not in said


def test_the_sandbox_stops_when_its_parent_goes() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "optin", "payments", "sandbox"),
            *("--port", str(port), "--stop-with-parent"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}", process)
        assert process.stdin is not None
        process.stdin.close()  # what the kernel does when the parent dies, however it dies
        # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught.
        assert process.wait(timeout=15) in (0, -15)
    finally:
        if process.poll() is None:
            process.kill()


def test_a_port_in_use_is_a_readable_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandFailed) as caught, sandbox_subprocess(port=port):
            pass
    assert f"is port {port} in use?" in caught.value.message


def test_sandbox_subprocess_on_any_free_port() -> None:
    with sandbox_subprocess(port=None) as url:
        assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=1)
