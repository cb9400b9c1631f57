"""``python -m gate_agent run`` (and ``optin gate run``): run a gate until its source ends or a
signal stops it.

Logs go to stderr; ``--json`` prints the summary (counters only) on stdout at exit. Exit codes:
0 after a clean stop, 2 for a configuration error (one line, never a traceback).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, cast

import click

from gate_agent.actuators import actuator_names
from gate_agent.config import (
    DEFAULT_SOURCE,
    DEFAULT_STATE_DIR,
    ENV_ACTUATOR,
    ENV_PURPOSE,
    ENV_RELAY_URL,
    ENV_SERVER,
    ENV_SOURCE,
    ENV_STATE_DIR,
    ENV_TOKEN,
    ENV_TOKEN_FILE,
    PURPOSES,
    AgentConfig,
    PipelineSettings,
    Purpose,
    read_token,
)
from optin.errors import ConfigurationError

EXIT_FAILED = 2


class ConfigFailed(click.ClickException):
    exit_code = EXIT_FAILED


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The optin gate agent: recognises only the people enrolled for its venue."""


@click.command("run")
@click.option(
    "--server",
    envvar=ENV_SERVER,
    required=True,
    metavar="URL",
    help=f"Base URL of the optin server [env {ENV_SERVER}].",
)
@click.option(
    "--token-file",
    envvar=ENV_TOKEN_FILE,
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"File holding the gate token, mode 0600 [env {ENV_TOKEN_FILE}; or the token "
    f"itself in {ENV_TOKEN}].",
)
@click.option(
    "--source",
    envvar=ENV_SOURCE,
    default=DEFAULT_SOURCE,
    show_default=True,
    metavar="URI",
    help=f"webcam:N, rtsp://..., a video file, or a folder of images [env {ENV_SOURCE}].",
)
@click.option(
    "--realtime/--fast",
    default=True,
    show_default=True,
    help="Play a video file at its frame rate (dropping late frames, as a camera "
    "would) or as fast as possible (every frame).",
)
@click.option(
    "--stride",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Keep every n-th frame of a video file.",
)
@click.option(
    "--actuator",
    envvar=ENV_ACTUATOR,
    type=click.Choice(actuator_names()),
    default="log",
    show_default=True,
    help=f"What a decision triggers [env {ENV_ACTUATOR}].",
)
@click.option(
    "--relay-url",
    envvar=ENV_RELAY_URL,
    metavar="URL",
    help=f"Where the http actuator POSTs decisions [env {ENV_RELAY_URL}].",
)
@click.option(
    "--purpose",
    envvar=ENV_PURPOSE,
    type=click.Choice(PURPOSES),
    default="entry",
    show_default=True,
    help=f"What this gate is for [env {ENV_PURPOSE}].",
)
@click.option(
    "--state-dir",
    envvar=ENV_STATE_DIR,
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_STATE_DIR,
    show_default=True,
    help=f"Private folder for the encrypted gallery cache and unsent events [env {ENV_STATE_DIR}].",
)
@click.option(
    "--max-offline",
    type=click.IntRange(min=0),
    metavar="SECONDS",
    help="Decide offline for at most this long (can only lower the server's limit).",
)
@click.option("--max-frames", type=click.IntRange(min=1), help="Stop after this many frames.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Stop after this many seconds.",
)
@click.option(
    "--detect-scale",
    type=click.FloatRange(0.05, 1.0),
    default=0.5,
    show_default=True,
    help="Detect faces on a copy of each frame shrunk by this factor.",
)
@click.option(
    "--long-poll",
    type=click.IntRange(1, 30),
    default=25,
    show_default=True,
    metavar="SECONDS",
    help="How long the server may hold a gallery request.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
def run(
    server: str,
    token_file: Path | None,
    source: str,
    realtime: bool,
    stride: int,
    actuator: str,
    relay_url: str | None,
    purpose: str,
    state_dir: Path,
    max_offline: int | None,
    max_frames: int | None,
    duration: float | None,
    detect_scale: float,
    long_poll: int,
    as_json: bool,
    log_level: str,
) -> None:
    """Run the gate: sync the venue's gallery, watch the source, decide, report events.

    Shows "face recognition in operation" whenever the camera runs. Faces that match nobody
    enrolled are dropped in memory: no file, log line or request is ever about them. Stops
    cleanly on Ctrl-C or SIGTERM, storing unsent events for the next run.
    """
    from gate_agent.agent import Agent  # heavy imports (numpy, httpx) after option parsing

    _configure_logging(log_level)
    try:
        config = AgentConfig(
            server_url=server,
            token=read_token(token_file, os.environ),
            state_dir=state_dir,
            source=source,
            realtime=realtime,
            stride=stride,
            actuator=actuator,
            relay_url=relay_url,
            purpose=cast(Purpose, purpose),
            max_offline_seconds=max_offline,
            max_frames=max_frames,
            duration=duration,
            long_poll_seconds=long_poll,
            pipeline=PipelineSettings(detect_scale=detect_scale),
        )
        if actuator == "http" and not relay_url:
            raise ConfigurationError(f"the http actuator needs --relay-url (or {ENV_RELAY_URL})")
    except ConfigurationError as exc:
        raise ConfigFailed(exc.detail) from None
    stop = threading.Event()
    try:
        with _stop_on_signals(stop):
            summary = Agent(config).run(stop)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback that could hold data
        raise ConfigFailed(f"the gate stopped: {type(exc).__name__}: {exc}") from None
    _report(summary, as_json)


main.add_command(run)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop``; a second one interrupts at once (KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        logging.getLogger("gate_agent").info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request line at INFO; the long-poll would flood the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        json.dump(summary, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        sys.stdout.flush()
        return
    decisions = ", ".join(f"{k} {v}" for k, v in summary["decisions"].items()) or "none"
    latency = summary["latency_ms"]
    click.echo(
        f"frames {summary['frames']} (dropped {summary['frames_dropped']}), faces "
        f"{summary['faces']}, tracks {summary['tracks']}, encodings {summary['encodings']}, "
        f"matches {summary['matches']}, decisions: {decisions}; latency p50 {latency['p50']} ms, "
        f"p95 {latency['p95']} ms; status: {summary['status']}",
        err=True,
    )
