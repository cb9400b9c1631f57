"""``python -m gate_agent run`` (and ``optin gate run``): run a gate until its source ends or a
signal stops it; with ``--mode payment``, a till (``gate_agent.till``).

Logs go to stderr; ``--json`` prints the summary (counters only) on stdout at exit. Exit codes:
0 after a clean stop, 2 for a configuration error (one line, never a traceback); a scripted
purchase (``--charge``, ``--resume``) exits with its outcome's code (``gate_agent.till``).
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
from typing import TYPE_CHECKING, Any, cast

import click

from gate_agent.actuators import actuator_names
from gate_agent.config import (
    DEFAULT_SOURCE,
    DEFAULT_STATE_DIR,
    DEFAULT_WAIT_SECONDS,
    ENV_ACTUATOR,
    ENV_CURRENCY,
    ENV_MODE,
    ENV_PURPOSE,
    ENV_RELAY_URL,
    ENV_SERVER,
    ENV_SOURCE,
    ENV_STATE_DIR,
    ENV_TOKEN,
    ENV_TOKEN_FILE,
    MODES,
    PURPOSES,
    AgentConfig,
    Mode,
    PaymentSettings,
    PipelineSettings,
    Purpose,
    read_token,
)
from gate_agent.payment import PurchaseStore, clean_item, parse_amount
from gate_agent.till import (
    EXIT_CODES,
    FilePinPad,
    InteractiveTill,
    ScriptedCharge,
    TillInputError,
    TillProgram,
    cancel_text,
    check_pin_file,
)
from optin.errors import ConfigurationError
from optin.logs import LOG_FORMATS, LogFormat, configure_logging

if TYPE_CHECKING:
    from gate_agent.agent import Agent

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
    help=f"What a decision, or in payment mode a purchase's result, triggers [env {ENV_ACTUATOR}].",
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
    help=f"What this gate is for: entry (the default), or payment, which payment mode "
    f"always is [env {ENV_PURPOSE}].",
)
@click.option(
    "--mode",
    envvar=ENV_MODE,
    type=click.Choice(MODES),
    help="gate (the default): decide about every enrolled person who passes. payment: a till; "
    "purchases are typed on stdin, one command a line (charge AMOUNT ITEM, retry, cancel, "
    "status, help, quit), and each is charged to the one customer enrolled for payment "
    f"recognised at the till. --charge or --resume imply it [env {ENV_MODE}].",
)
@click.option(
    "--charge",
    "charge_amount",
    metavar="AMOUNT",
    help="Payment mode, scripted: charge this one purchase (in the venue's currency, e.g. 1200 "
    "for 1,200 JPY) to the customer recognised, print the result and exit with its code: "
    "0 approved, 3 declined, 4 PIN needed or wrong, 5 not allowed or PIN locked, 6 no "
    "customer recognised, 7 outcome unknown (kept: --resume), 8 refused by the server.",
)
@click.option(
    "--item",
    default="",
    metavar="TEXT",
    help="What --charge is for, as the customer's statement shows it (at most 200 characters).",
)
@click.option(
    "--purchase-id",
    metavar="ID",
    help="An id for the --charge purchase chosen by the kiosk (at most 128 characters, "
    "default: a new UUID): the same id again continues that purchase and never charges twice.",
)
@click.option(
    "--pin-file",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Where the customer's PIN is, if the server asks for one (above the venue's limit): "
    "the first line of FILE (mode 0600), of a pipe, or of stdin with '-'. Read only when "
    "asked, used once, never stored or logged.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Payment mode, scripted: finish the unfinished purchase (outcome unknown, or waiting "
    "for a PIN) with the same purchase id, so it is never charged twice.",
)
@click.option(
    "--cancel-pending",
    is_flag=True,
    help="Drop the unfinished purchase and exit, without contacting the server. If its outcome "
    "was unknown, check it in the venue's console before charging again.",
)
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=DEFAULT_WAIT_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="Payment mode: how long a purchase waits for its customer to be recognised.",
)
@click.option(
    "--currency",
    envvar=ENV_CURRENCY,
    metavar="CODE",
    help=f"Payment mode: the ISO 4217 currency charged (default: the venue's, from the server; "
    f"JPY if it does not say) [env {ENV_CURRENCY}].",
)
@click.option(
    "--state-dir",
    envvar=ENV_STATE_DIR,
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_STATE_DIR,
    show_default=True,
    help="Private folder for the encrypted gallery cache, unsent events and, in payment mode, "
    f"the unfinished purchase [env {ENV_STATE_DIR}].",
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
@click.option(
    "--indicator-file",
    envvar="OPTIN_GATE_INDICATOR_FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help='Keep the "face recognition in operation" indicator\'s state in this JSON file '
    '({"on": true|false, "since", "message"}), on exactly while the camera is open, for a lamp '
    "or display to follow [env OPTIN_GATE_INDICATOR_FILE].",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the summary as JSON on stdout. Payment mode: --charge/--resume print the result "
    "(outcome, message, amount_minor, currency, charge_id...) with the summary; the till prints "
    "every line as a JSON object with an 'event' member.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    envvar="OPTIN_LOG_FORMAT",
    default="text",
    show_default=True,
    help="text, or one JSON object a line through the redaction filter [env OPTIN_LOG_FORMAT].",
)
@click.option(
    "--metrics-port",
    envvar="OPTIN_GATE_METRICS_PORT",
    type=click.IntRange(1, 65535),
    metavar="PORT",
    help="Serve Prometheus metrics (counts only: frames, faces, decisions, gallery size, sync "
    "lag, unsent events) at http://127.0.0.1:PORT/metrics. Off by default "
    "[env OPTIN_GATE_METRICS_PORT].",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    metavar="ADDRESS",
    help="Where --metrics-port listens (0.0.0.0 for a scraper on another machine).",
)
def run(
    server: str,
    token_file: Path | None,
    source: str,
    realtime: bool,
    stride: int,
    actuator: str,
    relay_url: str | None,
    purpose: str | None,
    mode: str | None,
    charge_amount: str | None,
    item: str,
    purchase_id: str | None,
    pin_file: Path | None,
    resume: bool,
    cancel_pending: bool,
    wait_seconds: float,
    currency: str | None,
    state_dir: Path,
    max_offline: int | None,
    max_frames: int | None,
    duration: float | None,
    detect_scale: float,
    long_poll: int,
    indicator_file: Path | None,
    as_json: bool,
    log_level: str,
    log_format: LogFormat,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Run the gate: sync the venue's gallery, watch the source, decide, report events.

    Shows "face recognition in operation" whenever the camera runs. Faces that match nobody
    enrolled are dropped in memory: no file, log line or request is ever about them. Stops
    cleanly on Ctrl-C or SIGTERM, storing unsent events for the next run.

    \b
    Payment mode (a till):
      optin gate run --mode payment ...          then type: charge 1200 Lunch set
      optin gate run --charge 1200 --item "Lunch set" --pin-file - --json ...
    """
    from gate_agent.agent import Agent  # heavy imports (numpy, httpx) after option parsing

    _configure_logging(log_level, log_format)
    scripted = charge_amount is not None or resume
    try:
        if scripted and mode == "gate":
            raise ConfigurationError("--charge and --resume are payment mode's")
        resolved_mode = cast(Mode, "payment" if scripted or cancel_pending else mode or "gate")
        if resolved_mode == "payment" and purpose == "entry":
            raise ConfigurationError("payment mode charges for payment: drop --purpose entry")
        if charge_amount is not None and resume:
            raise ConfigurationError("--charge starts a new purchase; --resume finishes one")
        if (pin_file or purchase_id or item) and not scripted:
            raise ConfigurationError(
                "--item, --purchase-id and --pin-file go with --charge (or --resume)"
            )
        config = AgentConfig(
            server_url=server,
            token=read_token(token_file, os.environ),
            state_dir=state_dir,
            source=source,
            realtime=realtime,
            stride=stride,
            actuator=actuator,
            relay_url=relay_url,
            purpose=cast(Purpose, "payment" if resolved_mode == "payment" else purpose or "entry"),
            mode=resolved_mode,
            payment=PaymentSettings(
                wait_seconds=wait_seconds, currency=currency.upper() if currency else None
            ),
            max_offline_seconds=max_offline,
            max_frames=max_frames,
            duration=duration,
            long_poll_seconds=long_poll,
            indicator_path=indicator_file,
            pipeline=PipelineSettings(detect_scale=detect_scale),
        )
        if actuator == "http" and not relay_url:
            raise ConfigurationError(f"the http actuator needs --relay-url (or {ENV_RELAY_URL})")
        till = _till(config, charge_amount, item, purchase_id, pin_file, resume, as_json)
    except ConfigurationError as exc:
        raise ConfigFailed(exc.detail) from None
    if cancel_pending:
        _cancel_pending(config)
        return
    stop = threading.Event()
    try:
        with _stop_on_signals(stop):
            agent = Agent(config, till=till)
            with _metrics_endpoint(agent, metrics_host, metrics_port):
                summary = agent.run(stop)
    except TillInputError as exc:
        raise ConfigFailed(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback that could hold data
        raise ConfigFailed(f"the gate stopped: {type(exc).__name__}: {exc}") from None
    if isinstance(till, ScriptedCharge):
        _report_purchase(till, summary, as_json)
        return
    if isinstance(till, InteractiveTill) and as_json:
        till.screen.progress("summary", "gate stopped", summary=summary)
        return
    _report(summary, as_json)


main.add_command(run)


def _till(
    config: AgentConfig,
    amount: str | None,
    item: str,
    purchase_id: str | None,
    pin_file: Path | None,
    resume: bool,
    as_json: bool,
) -> TillProgram | None:
    """The till program payment mode runs, checked before the camera opens."""
    if config.mode != "payment":
        return None
    if amount is None and not resume:
        return InteractiveTill(sys.stdin, sys.stdout, as_json=as_json)
    if purchase_id is not None and not 0 < len(purchase_id) <= 128:
        raise ConfigurationError("--purchase-id has 1 to 128 characters")
    if amount is not None:
        try:
            # The venue's currency may only be known from the server: check what can be now.
            parse_amount(amount, config.payment.currency or "XXX")
            clean_item(item)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
    if pin_file is not None and str(pin_file) != "-":
        check_pin_file(pin_file)  # now, not when the customer is already waiting for it
    return ScriptedCharge(
        amount=amount,
        item=item,
        purchase_id=purchase_id,
        resume=resume,
        pin_pad=FilePinPad(pin_file, sys.stdin) if pin_file is not None else None,
    )


def _cancel_pending(config: AgentConfig) -> None:
    from optin.crypto.gate_wire import gate_key

    store = PurchaseStore(config.purchase_path, gate_key(config.token))
    pending = store.load()
    if pending is None:
        click.echo("no unfinished purchase")
        return
    store.delete()
    click.echo(cancel_text(pending))


def _report_purchase(till: ScriptedCharge, summary: dict[str, Any], as_json: bool) -> None:
    result = till.result
    if result is None:  # stopped before the camera was on
        raise click.exceptions.Exit(EXIT_CODES["cancelled"])
    if as_json:
        json.dump({**result.as_json(), "summary": summary}, sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        sys.stdout.flush()
    else:
        click.echo(result.message)
        _report(summary, False)
    raise click.exceptions.Exit(EXIT_CODES[result.outcome])


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


@contextmanager
def _metrics_endpoint(agent: Agent, host: str, port: int | None) -> Iterator[None]:
    if port is None:
        yield
        return
    from gate_agent.events import EventStore
    from gate_agent.metrics import PrometheusCollector, serve_metrics

    store = EventStore(agent.config.events_path)
    collector = PrometheusCollector(
        agent.metrics,
        agent.state,
        pending_events=store.count,
        long_poll_seconds=agent.config.long_poll_seconds,
    )
    stop = serve_metrics(collector, port, host)
    logging.getLogger("gate_agent").info("metrics at http://%s:%d/metrics", host, port)
    try:
        yield
    finally:
        stop()


def _configure_logging(level: str, log_format: LogFormat = "text") -> None:
    if log_format == "json":
        configure_logging("json", level)
        return
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
    payments = ", ".join(
        f"{name.removeprefix('payment_').replace('_', '-')} {count}"
        for name, count in summary.items()
        if name.startswith("payment_")
    )
    if payments:
        decisions += f"; payments: {payments}"
    latency = summary["latency_ms"]
    click.echo(
        f"frames {summary['frames']} (dropped {summary['frames_dropped']}), faces "
        f"{summary['faces']}, tracks {summary['tracks']}, encodings {summary['encodings']}, "
        f"matches {summary['matches']}, decisions: {decisions}; latency p50 {latency['p50']} ms, "
        f"p95 {latency['p95']} ms; status: {summary['status']}",
        err=True,
    )
