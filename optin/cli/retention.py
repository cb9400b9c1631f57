"""``optin retention``: delete people whose retention deadline has passed, and purge records
whose keeping period has run out."""

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
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"deleted", "purged": {table: rows}, "provisions_purged", "checked_at"}.',
)
@fail_cleanly
def run_(now: datetime | None, as_json: bool) -> None:
    """Delete (crypto-shred) everyone past their deadline, exactly as a deletion request would,
    and purge, table by table, the records older than their keeping period (OPTIN_RETENTION_*)."""
    from datetime import UTC

    from optin.services.retention import SweepResult, sweep

    prepared = prepare(load_settings(), migrate=False)
    at = now.replace(tzinfo=now.tzinfo or UTC) if now else None

    async def go() -> SweepResult:
        async with database_session(prepared.settings) as session:
            return await sweep(session, prepared.keys, at, prepared.settings.retention)

    result = run(go())
    checked_at = result.checked_at.isoformat()
    if as_json:
        echo_json(
            {
                "deleted": result.deleted,
                "purged": dict(result.purged),
                "provisions_purged": result.provisions_purged,
                "checked_at": checked_at,
            }
        )
    else:
        click.echo(f"{result.deleted} people past their retention deadline deleted ({checked_at})")
        for table, rows in result.purged.items():
            click.echo(f"{rows} rows purged from {table}")
