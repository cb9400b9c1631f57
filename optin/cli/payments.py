"""``optin payments``: payment commands; ``optin payments sandbox`` serves the sandbox processor."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator

import click
import httpx

from optin.cli.common import CommandFailed

DEFAULT_SANDBOX_PORT = 8790


@click.group()
def payments() -> None:
    """Payments at the gate: the built-in sandbox card processor."""


@payments.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_SANDBOX_PORT,
    show_default=True,
    help="Listen port (OPTIN_PAYMENT_SANDBOX_URL must point here).",
)
# For sandbox_subprocess: stop when the parent's end of stdin closes, even if it was killed.
@click.option("--stop-with-parent", is_flag=True, hidden=True)
def sandbox(host: str, port: int, stop_with_parent: bool) -> None:
    """Serve the sandbox card processor (test cards, no real money) until Ctrl-C.

    \b
    4242424242424242  approved
    4000000000000002  declined: card_declined
    4000000000009995  declined: insufficient_funds
    POST /v1/_control {"delay_seconds", "fail_next", "reset"} injects faults;
    GET /v1/_ledger shows every payment it made.
    """
    import uvicorn

    from optin.payments.sandbox_server import create_sandbox_app

    click.echo(f"payment sandbox listening on http://{host}:{port}/", err=True)
    if stop_with_parent:
        threading.Thread(target=_stop_at_end_of_stdin, daemon=True).start()
    uvicorn.run(
        create_sandbox_app(),
        host=host,
        port=port,
        # Token paths (/v1/tokens/{token}) must not end up in an access log.
        access_log=False,
        log_level="warning",
    )


def _stop_at_end_of_stdin() -> None:
    while sys.stdin.buffer.read(1024):
        pass
    # uvicorn shuts down gracefully on SIGTERM.
    os.kill(os.getpid(), signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def sandbox_subprocess(
    host: str = "127.0.0.1", port: int | None = DEFAULT_SANDBOX_PORT, *, timeout: float = 30.0
) -> Iterator[str]:
    """Run ``optin payments sandbox`` in a child process; yield its URL, stop it on exit.

    A separate process, like a real processor: the app reaches it only over HTTP. ``port=None``
    takes any free port.
    """
    if port is None:
        port = free_port(host)
    # Output goes to a file, not a pipe nobody reads while it runs (a full pipe would block it).
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed arguments
        [
            *(sys.executable, "-m", "optin", "payments", "sandbox"),
            *("--host", host, "--port", str(port), "--stop-with-parent"),
        ],
        env=dict(os.environ),
        # Our end of its stdin closes when we exit, however we exit: the sandbox then stops too.
        stdin=subprocess.PIPE,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{host}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                output.seek(0)
                said = output.read().decode(errors="replace")
                raise CommandFailed(
                    f"the payment sandbox did not start (is port {port} in use?):\n{said}"
                )
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise CommandFailed("the payment sandbox did not start in time")
            time.sleep(0.05)
        yield url
    finally:
        if process.stdin:
            process.stdin.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()
