"""``optin retention``: delete people whose retention deadline has passed."""

from __future__ import annotations

from datetime import datetime

import click

from optin.cli.common import database_session, echo_json, fail_cleanly, load_settings, run
from optin.runtime import prepare


@click.group()
def retention() -> None:
    """Storage limitation: trip end + grace, then automatic deletion."""


@retention.command("run")
@click.option(
    "--now",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
    help="Pretend it is this time (UTC if no offset), e.g. to preview a later sweep.",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"deleted", "checked_at"}.')
@fail_cleanly
def run_(now: datetime | None, as_json: bool) -> None:
    """Delete (crypto-shred) everyone past their deadline, exactly as a deletion request would."""
    from datetime import UTC

    from optin.services.retention import sweep

    prepared = prepare(load_settings(), migrate=False)
    at = now.replace(tzinfo=now.tzinfo or UTC) if now else None

    async def go() -> tuple[int, str]:
        async with database_session(prepared.settings) as session:
            result = await sweep(session, prepared.keys, at)
            return result.deleted, result.checked_at.isoformat()

    deleted, checked_at = run(go())
    if as_json:
        echo_json({"deleted": deleted, "checked_at": checked_at})
    else:
        click.echo(f"{deleted} people past their retention deadline deleted ({checked_at})")
