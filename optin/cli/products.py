"""``optin product`` and ``optin entitlement``: what a venue sells, and who bought it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import click

from optin.cli.common import (
    CommandFailed,
    database_session,
    echo_json,
    fail_cleanly,
    load_settings,
    run,
)
from optin.runtime import prepare


@click.group()
def product() -> None:
    """Entry products a venue offers (e.g. a day pass)."""


@product.command("add")
@click.argument("venue_slug")
@click.argument("code")
@click.option("--name", required=True, help="e.g. 'Day pass'.")
@click.option("--days", type=click.IntRange(min=1), required=True, help="Days it is valid.")
@click.option("--json", "as_json", is_flag=True)
@fail_cleanly
def add(venue_slug: str, code: str, name: str, days: int, as_json: bool) -> None:
    """Add a product CODE that VENUE_SLUG sells."""
    from optin.services.entitlements import add_product
    from optin.services.venues import venues_by_slug

    settings = load_settings()

    async def go() -> dict[str, Any]:
        async with database_session(settings) as session:
            (venue,) = await venues_by_slug(session, [venue_slug])
            created = await add_product(session, venue, code=code, name=name, valid_days=days)
            await session.commit()
            return {"venue": venue_slug, "code": created.code, "name": name, "days": days}

    result = run(go())
    if as_json:
        echo_json(result)
    else:
        click.echo(f"{venue_slug} now sells {code} ({name}, {days} days)")


@click.group()
def entitlement() -> None:
    """Entitlements: which enrolled person may enter where, until when."""


@entitlement.command("grant")
@click.argument("subject_id")
@click.option("--venue", "venue_slug", required=True)
@click.option("--product", "code", required=True, help="Product code, e.g. day-pass.")
@click.option(
    "--from",
    "valid_from",
    type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"]),
    help="Start of validity [default: now].",
)
@click.option("--json", "as_json", is_flag=True)
@fail_cleanly
def grant(
    subject_id: str, venue_slug: str, code: str, valid_from: datetime | None, as_json: bool
) -> None:
    """Record that SUBJECT_ID bought a product; the venue's gates learn it within a second."""
    from optin.db.base import utcnow
    from optin.db.enums import ChangeAction
    from optin.services.entitlements import grant_product
    from optin.services.gallery import record_change
    from optin.services.venues import venues_by_slug

    try:
        subject = UUID(subject_id)
    except ValueError:
        raise CommandFailed(f"{subject_id!r} is not a subject id") from None
    prepared = prepare(load_settings(), migrate=False)
    start = valid_from.replace(tzinfo=valid_from.tzinfo or UTC) if valid_from else utcnow()

    async def go() -> dict[str, Any]:
        async with database_session(prepared.settings) as session:
            (venue,) = await venues_by_slug(session, [venue_slug])
            granted = await grant_product(session, subject, venue, code, start)
            await record_change(session, prepared.keys.master, [venue], subject, ChangeAction.ADD)
            await session.commit()
            return {
                "venue": venue_slug,
                "product": code,
                "valid_from": granted.valid_from.isoformat(),
                "valid_until": granted.valid_until.isoformat(),
            }

    result = run(go())
    if as_json:
        echo_json(result)
    else:
        click.echo(f"granted {code} at {venue_slug} until {result['valid_until']}")
