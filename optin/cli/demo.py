"""``optin demo``: the whole product on the embedded default, from nothing, in one command."""

from __future__ import annotations

import dataclasses
import functools
import shutil
from pathlib import Path

import click

from optin.cli.common import CommandFailed, echo_json, fail_cleanly, load_settings
from optin.cli.payments import DEFAULT_SANDBOX_PORT, free_port, sandbox_subprocess
from optin.cli.serve import background_server
from optin.config import sqlite_url
from optin.demo_checks import DemoChecks
from optin.runtime import prepare

DEMO_MARKER = ".optin-demo"


def _reset(data_dir: Path) -> None:
    """Start from nothing, but only ever delete a directory an earlier demo created."""
    if not data_dir.exists():
        return
    if not (data_dir / DEMO_MARKER).exists() and any(data_dir.iterdir()):
        raise CommandFailed(
            f"{data_dir} exists and was not made by `optin demo`; choose another --data-dir"
        )
    shutil.rmtree(data_dir)


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".optin/demo"),
    show_default=True,
    help="Where the demo keeps its SQLite database and keys; wiped at the start of each run.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--serve/--no-serve", default=True, help="Keep serving after the tour [default: serve]."
)
@click.option(
    "--once",
    is_flag=True,
    help="Run the story without serving afterwards; exit 0 only if every step behaved as "
    "expected, with a summary.",
)
@click.option("--json", "as_json", is_flag=True, help="With --once: the summary as JSON on stdout.")
@click.option(
    "--sandbox-port",
    type=click.IntRange(1, 65535),
    help=f"Port of the payment sandbox the demo starts [default: {DEFAULT_SANDBOX_PORT} when "
    "serving, else any free port].",
)
@fail_cleanly
def demo(
    data_dir: Path,
    host: str,
    port: int,
    serve: bool,
    once: bool,
    as_json: bool,
    sandbox_port: int | None,
) -> None:
    """Set up a fresh demo data directory, walk through what the product does, then serve it."""
    _reset(data_dir)
    base = load_settings(host=host, port=port)
    serve = serve and not once
    # The sandbox card processor runs beside the app as its own process, like a real one.
    if sandbox_port is None:
        sandbox_port = DEFAULT_SANDBOX_PORT if serve else free_port(host)
    settings = dataclasses.replace(
        base,
        # The demo's notice is published a moment ago; its gates may start right away.
        gates=dataclasses.replace(base.gates, notice_lead_hours=0),
        data_dir=data_dir,
        database_url=sqlite_url(data_dir / "optin.db"),
        master_key_file=data_dir / "master.key",
        signing_key_file=data_dir / "signing.key",
        subject_keys_file=data_dir / "subject-keys.db",
        payments=dataclasses.replace(
            base.payments, provider="sandbox", sandbox_url=f"http://{host}:{sandbox_port}"
        ),
    )
    # With --json the story goes to stderr, so stdout holds only the summary.
    echo = functools.partial(click.echo, err=as_json)
    prepared = prepare(settings, migrate=True)
    (data_dir / DEMO_MARKER).touch()
    echo(f"data directory   {data_dir}/ (private, 0700)")
    echo(f"database         {settings.database_url} at revision {prepared.schema_revision}")
    echo(f"master keyring   {settings.master_key_file} (0600)")

    from optin.demo_console import run_console_story
    from optin.demo_gate import run_gate_story
    from optin.demo_tour import run_tour

    checks = DemoChecks()
    run_tour(prepared, echo, checks)
    url = f"http://{host}:{port}/"
    with (
        sandbox_subprocess(host, sandbox_port) as sandbox_url,
        background_server(settings) as server,
    ):
        echo(f"payment sandbox  {sandbox_url}/ (test cards only: 4242 4242 4242 4242 pays)")
        run_gate_story(prepared, echo, url.rstrip("/"), checks)
        run_console_story(prepared, echo, url.rstrip("/"), checks)
        if not serve:
            _summarise(checks, as_json)
            return
        click.echo("")
        click.echo(f"Open {url}enroll on a phone-sized window to enrol, {url}api/docs for the API.")
        click.echo(f"The operator console is at {url}console (demo accounts above).")
        click.echo(f"Sign-in links are mailed to {settings.outbox_dir}/. Stop with Ctrl-C.")
        server.wait()


def _summarise(checks: DemoChecks, as_json: bool) -> None:
    if as_json:
        echo_json(checks.as_dict())
    else:
        click.echo("\nSummary")
        for step in checks.steps:
            click.echo(f"  {'ok  ' if step['ok'] else 'FAIL'} {step['step']}")
    if not checks.ok:
        raise CommandFailed("some demo steps did not behave as expected")
