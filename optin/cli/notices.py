"""``optin notice``: publish and inspect the privacy notices."""

from __future__ import annotations

from typing import Any

import click

from optin.cli.common import database_session, echo_json, fail_cleanly, load_settings, run
from optin.db.enums import Language, Purpose
from optin.db.models import Notice


def _summary(notice: Notice) -> dict[str, Any]:
    return {
        "id": str(notice.id),
        "version": notice.version,
        "language": str(notice.language),
        "purposes": list(notice.purposes),
        "venue_ids": list(notice.venue_ids),
        "text_sha256": notice.text_sha256,
        "effective_at": notice.effective_at.isoformat(),
    }


@click.group()
def notice() -> None:
    """Publish privacy notices (all four languages at once) and show the current ones."""


@notice.command("publish")
@click.option(
    "--venue",
    "venue_slugs",
    multiple=True,
    help="Venue to name (repeatable) [default: every venue].",
)
@click.option(
    "--purpose",
    "purposes",
    multiple=True,
    type=click.Choice([p.value for p in Purpose]),
    help="Purpose to cover (repeatable) [default: all].",
)
@click.option("--json", "as_json", is_flag=True, help="Print the published notices as JSON.")
@fail_cleanly
def publish(venue_slugs: tuple[str, ...], purposes: tuple[str, ...], as_json: bool) -> None:
    """Publish the next notice version in ja, en, zh and ko.

    Refused if the operator's name or contact point is empty, or no venue exists.
    """
    from optin.services.notices import publish_notices
    from optin.services.venues import list_venues, venues_by_slug

    settings = load_settings()

    async def go() -> list[dict[str, Any]]:
        async with database_session(settings) as session:
            venues = (
                await venues_by_slug(session, venue_slugs)
                if venue_slugs
                else list(await list_venues(session))
            )
            chosen = [Purpose(p) for p in purposes] or list(Purpose)
            published = await publish_notices(session, settings, venues, chosen)
            await session.commit()
            return [_summary(n) for n in published]

    rows = run(go())
    if as_json:
        echo_json(rows)
    else:
        click.echo(f"published notice version {rows[0]['version']} in ja, en, zh and ko")


@notice.command("show")
@click.option("--language", type=click.Choice([lang.value for lang in Language]), default="en")
@click.option("--json", "as_json", is_flag=True, help="Print the notice as JSON.")
@fail_cleanly
def show(language: str, as_json: bool) -> None:
    """Show the current notice in one language."""
    from optin.services.notices import current_notices

    settings = load_settings()

    async def go() -> Notice | None:
        async with database_session(settings) as session:
            found = await current_notices(session, Language(language))
            return found[0] if found else None

    current = run(go())
    if current is None:
        raise click.ClickException("no notice is published yet: run `optin notice publish`")
    if as_json:
        echo_json({**_summary(current), "title": current.title, "body": current.body})
    else:
        click.echo(f"{current.title}  (version {current.version}, sha256 {current.text_sha256})\n")
        click.echo(current.body)
