"""``optin notice``: publish and inspect the privacy notices."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

import click

from optin.cli.common import database_session, echo_json, fail_cleanly, load_settings, run
from optin.db.enums import Language, Purpose
from optin.db.models import Notice

#: An --effective-at this little in the past was meant as "now" (typed, then sent).
NOW_TOLERANCE: Final = timedelta(minutes=1)


def _summary(notice: Notice) -> dict[str, Any]:
    return {
        "id": str(notice.id),
        "version": notice.version,
        "language": str(notice.language),
        "purposes": list(notice.purposes),
        "changed_purposes": list(notice.changed_purposes or []),
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
@click.option(
    "--changes-purpose",
    "changed",
    multiple=True,
    type=click.Choice([p.value for p in Purpose]),
    help="A purpose whose meaning this version changes (repeatable): consents given on earlier "
    "versions for it stop reaching the gates once this version applies, until renewed.",
)
@click.option(
    "--effective-at",
    "effective_text",
    metavar="DATETIME",
    help="When the version applies, ISO 8601 with a UTC offset (e.g. 2025-07-01T00:00+09:00); "
    "now or later [default: now]. Announce a change of purpose in advance with it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the published notices as JSON.")
@fail_cleanly
def publish(
    venue_slugs: tuple[str, ...],
    purposes: tuple[str, ...],
    changed: tuple[str, ...],
    effective_text: str | None,
    as_json: bool,
) -> None:
    """Publish the next notice version in ja, en, zh and ko.

    Refused if the operator's name or contact point is empty, or no venue exists. Published
    with immediate effect, a version that changes purposes sets aside at once the consents it
    outdates; with a later --effective-at, the server does it when that time comes.
    """
    from optin.db.base import utcnow
    from optin.runtime import prepare
    from optin.services.notices import publish_notices
    from optin.services.renewal import announce_purpose_change, apply_purpose_changes
    from optin.services.venues import list_venues, venues_by_slug

    settings = load_settings()
    effective_at = _effective_at(effective_text, utcnow())

    async def go() -> tuple[list[dict[str, Any]], int, int]:
        async with database_session(settings) as session:
            venues = (
                await venues_by_slug(session, venue_slugs)
                if venue_slugs
                else list(await list_venues(session))
            )
            chosen = [Purpose(p) for p in purposes] or list(Purpose)
            published = await publish_notices(
                session,
                settings,
                venues,
                chosen,
                effective_at=effective_at,
                changed_purposes=[Purpose(p) for p in changed],
            )
            queued = 0
            if changed:
                # Everyone whose consent this sets aside hears about it (before, when announced
                # ahead): queued with the publication, sent by the server in the background.
                queued = await announce_purpose_change(session, published[0].version)
            await session.commit()
            rows = [_summary(n) for n in published]
            marked = 0
            if effective_at is None:
                # In effect now: gates must stop using outdated consents now, not at the
                # server's next check.
                keys = prepare(settings, migrate=False).keys
                marked = await apply_purpose_changes(session, keys)
            return rows, marked, queued

    rows, marked, queued = run(go())
    if as_json:
        echo_json(rows)
        return
    first = rows[0]
    when = "now" if effective_at is None else f"on {first['effective_at']}"
    click.echo(
        f"published notice version {first['version']} in ja, en, zh and ko, in effect {when}"
    )
    if first["changed_purposes"]:
        what = ", ".join(first["changed_purposes"])
        if effective_at is None:
            click.echo(f"it changes {what}: {marked} consents given earlier now need renewal")
        else:
            click.echo(
                f"it changes {what}: consents given earlier will need renewal from then on "
                "(the server marks them)"
            )
        click.echo(
            f"{queued} change-of-purpose mails queued: the server sends them shortly "
            "(or run `optin mail send-pending`)"
        )


def _effective_at(text: str | None, now: datetime) -> datetime | None:
    """The --effective-at moment in UTC, or None for now; a moment in the past is refused."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 date and time", param_hint="--effective-at"
        ) from None
    if moment.tzinfo is None:
        raise click.BadParameter(
            "give a UTC offset, e.g. 2025-07-01T00:00+09:00 or ...Z", param_hint="--effective-at"
        )
    if moment < now - NOW_TOLERANCE:
        raise click.BadParameter(
            "must be now or later: a notice cannot apply before it is published",
            param_hint="--effective-at",
        )
    return None if moment <= now else moment.astimezone(now.tzinfo)


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
