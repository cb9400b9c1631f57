"""``optin migrate``: bring the database schema up to date."""

from __future__ import annotations

import json

import click
from alembic.util import CommandError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from optin.config import Settings
from optin.db.engine import redact_url
from optin.errors import OptinError


@click.command()
@click.option(
    "--database-url",
    metavar="URL",
    help="Database to migrate (default: OPTIN_DATABASE_URL, else the SQLite file in the data dir).",
)
@click.option(
    "--revision",
    default="head",
    show_default=True,
    help="Revision to upgrade to; 'head' is the newest.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def migrate(database_url: str | None, revision: str, as_json: bool) -> None:
    """Upgrade the database schema (creating it if needed) to a revision."""
    # Imported here so `optin --help` does not load alembic and every model.
    from optin.db.migrate import current_revision, upgrade

    try:
        url = database_url or Settings.from_env().database_url
    except OptinError as exc:
        raise click.ClickException(str(exc)) from None
    shown = redact_url(url)
    try:
        upgrade(url, revision)
        reached = current_revision(url)
    except (OptinError, SQLAlchemyError, CommandError, OSError, ValueError) as exc:
        raise click.ClickException(f"migrating {shown} failed: {_one_line(exc)}") from None
    if as_json:
        click.echo(json.dumps({"database": shown, "revision": reached}))
    else:
        click.echo(f"{shown} is at revision {reached}")


def _one_line(exc: BaseException) -> str:
    # SQLAlchemy appends the SQL and a documentation link on further lines; the driver's own
    # message is the useful part.
    source: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    lines = [line.strip() for line in str(source).splitlines() if line.strip()]
    text = lines[0] if lines else type(source).__name__
    return f"{type(source).__name__}: {text}"
