"""``optin venue``: the venues taking part."""

from __future__ import annotations

import click

from optin.cli.common import database_session, echo_json, fail_cleanly, load_settings, run
from optin.runtime import prepare


@click.group()
def venue() -> None:
    """Create and list venues (places whose gates recognise enrolled people)."""


@venue.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="Display name, e.g. 'Shirahama Onsen Hotel'.")
@click.option("--timezone", default="Asia/Tokyo", show_default=True, help="IANA time zone.")
@click.option("--json", "as_json", is_flag=True, help="Print the venue as JSON.")
@fail_cleanly
def create(slug: str, name: str, timezone: str, as_json: bool) -> None:
    """Add a venue SLUG with its own venue key."""
    from optin.services.venues import create_venue

    prepared = prepare(load_settings(), migrate=False)

    async def go() -> dict[str, str]:
        async with database_session(prepared.settings) as session:
            created = await create_venue(
                session, prepared.keys.master, slug=slug, name=name, timezone=timezone
            )
            await session.commit()
            return {"slug": created.slug, "name": created.name, "timezone": created.timezone}

    result = run(go())
    if as_json:
        echo_json(result)
    else:
        click.echo(f"venue {result['slug']} created: {result['name']} ({result['timezone']})")


@venue.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@fail_cleanly
def list_(as_json: bool) -> None:
    """List the venues."""
    from optin.services.venues import list_venues

    settings = load_settings()

    async def go() -> list[dict[str, str]]:
        async with database_session(settings) as session:
            return [
                {"id": str(v.id), "slug": v.slug, "name": v.name, "timezone": v.timezone}
                for v in await list_venues(session)
            ]

    rows = run(go())
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['slug']:<24} {row['name']} ({row['timezone']})")


@venue.command("rotate-key")
@click.argument("slug")
@fail_cleanly
def rotate_key(slug: str) -> None:
    """Give venue SLUG a new key: new pseudonyms and transform; its gates resync at once."""
    from optin.services.venues import rotate_venue_key

    prepared = prepare(load_settings(), migrate=False)

    async def go() -> int:
        async with database_session(prepared.settings) as session:
            return await rotate_venue_key(session, prepared.keys.master, slug)

    seq = run(go())
    click.echo(f"{slug}: new venue key from change {seq}; its gates will fetch a new gallery")
