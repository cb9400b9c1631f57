"""``optin serve``: run the web application."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator

import click

from optin.cli.common import CommandFailed, fail_cleanly, load_settings
from optin.config import Settings
from optin.logs import LOG_FORMATS, LogFormat, configure_logging, logging_config
from optin.runtime import prepare

WORKER_PING_TIMEOUT_S = 30


@click.command()
@click.option("--host", help="Listen address [default: OPTIN_HOST or 127.0.0.1].")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Listen port [default: OPTIN_PORT or 8000]."
)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    envvar="OPTIN_LOG_FORMAT",
    default="json",
    show_default=True,
    help="One JSON object a line (request id, route template, status, duration; never "
    "personal data or secrets), or plain text [env OPTIN_LOG_FORMAT].",
)
@click.option(
    "--migrate/--no-migrate",
    default=False,
    help="Upgrade the database schema before serving (what the container does at start).",
)
@fail_cleanly
def serve(
    host: str | None, port: int | None, workers: int, log_format: LogFormat, migrate: bool
) -> None:
    """Serve the enrollment, portal, console and gate APIs over HTTP."""
    from optin.backup.lock import serving

    configure_logging(log_format)
    settings = load_settings(host=host, port=port)
    # Held while serving: `optin backup restore` refuses to run under a live server.
    with serving(settings):
        prepare(settings, migrate=migrate)
        run_server(settings, workers=workers, log_format=log_format)


def run_server(settings: Settings, *, workers: int = 1, log_format: LogFormat = "json") -> None:
    """Run uvicorn until SIGINT/SIGTERM. Several workers each build the app from the environment."""
    import uvicorn

    from enrollment_app.asgi import create_app

    log = logging.getLogger("optin")
    log.info("optin listening on http://%s:%s/", settings.host, settings.port)
    common = {
        "host": settings.host,
        "port": settings.port,
        # Paths can carry one-time tokens, so uvicorn's access log stays off.
        "access_log": False,
        "log_level": "info",
        # Applied again in every worker process.
        "log_config": logging_config(log_format),
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]
    else:
        uvicorn.run(
            "enrollment_app.asgi:create_app",
            factory=True,
            workers=workers,
            # uvicorn kills a worker that does not answer its parent's ping within this many
            # seconds (5 by default), dropping the requests in flight. Loading the face models
            # holds the GIL for a second or more, several on a busy host: give it room.
            timeout_worker_healthcheck=WORKER_PING_TIMEOUT_S,
            **common,  # type: ignore[arg-type]
        )


class BackgroundServer:
    """uvicorn in a thread, for the demo: the story runs while the app answers over HTTP."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from enrollment_app.asgi import create_app

        config = uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            access_log=False,
            log_level="warning",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="optin-server", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise CommandFailed("the server did not start (is the port already in use?)")
            time.sleep(0.05)

    def wait(self) -> None:
        """Serve until Ctrl-C."""
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


@contextlib.contextmanager
def background_server(settings: Settings) -> Iterator[BackgroundServer]:
    server = BackgroundServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()
