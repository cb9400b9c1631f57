"""``optin mail``: send the mail queued for many people (change of purpose) now."""

from __future__ import annotations

from dataclasses import asdict

import click

from optin.cli.common import echo_json, fail_cleanly, load_settings, run
from optin.runtime import prepare


@click.group()
def mail() -> None:
    """Mail queued in the background (the server sends it on its own as well)."""


@mail.command("send-pending")
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"sent", "failed", "given_up", "dropped"}.'
)
@fail_cleanly
def send_pending_(as_json: bool) -> None:
    """Send every queued mail that is due and that no running server is sending; failures stay
    queued and are retried later. Safe to run while the server runs: no mail is sent twice."""
    from optin.db.engine import create_engine, session_factory
    from optin.mail import mail_sender_from_settings
    from optin.services.mail_queue import BATCH, Drained, send_pending

    prepared = prepare(load_settings(), migrate=False)
    settings = prepared.settings

    async def go() -> Drained:
        engine = create_engine(settings.database_url)
        mailer = mail_sender_from_settings(settings)
        totals = Drained()
        try:
            while True:
                done = await send_pending(session_factory(engine), prepared.keys, settings, mailer)
                totals += done
                if done.handled < BATCH:
                    return totals
        finally:
            await engine.dispose()

    result = run(go())
    if as_json:
        echo_json(asdict(result))
    else:
        click.echo(
            f"{result.sent} queued mails sent, {result.failed} failed (kept to retry later), "
            f"{result.given_up} given up, {result.dropped} no longer needed"
        )
