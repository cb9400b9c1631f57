"""``optin operator device``: the browsers each operator may sign in from.

``add`` prints a one-time registration link (valid for an hour) to open in the operator's
browser; ``list`` shows devices and unused links; ``revoke`` stops a device and signs out the
sessions opened on it. Everything is audited (as the system: whoever runs the CLI has the host).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from optin.cli.common import database_session, echo_json, fail_cleanly, load_settings, run
from optin.runtime import prepare

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from optin.db.models import Operator
    from optin.runtime import Prepared


async def operator_named(session: AsyncSession, username: str) -> Operator:
    from sqlalchemy import select

    from optin.db.models import Operator
    from optin.errors import NotFound

    found = await session.scalar(
        select(Operator).where(Operator.username == username.strip().lower())
    )
    if found is None:
        raise NotFound(f"no operator named {username!r}")
    return found


async def issue_link(
    session: AsyncSession, prepared: Prepared, operator: Operator, label: str
) -> dict[str, Any]:
    """A one-time registration link for ``operator``'s next device, as printed."""
    from optin.services.audit import Actor
    from optin.services.operator_devices import issue_registration

    registration = await issue_registration(
        session, prepared.keys.tokens, operator, label, Actor.system()
    )
    return {
        "id": str(registration.device.id),
        "username": operator.username,
        "label": registration.device.label,
        "url": registration.url(prepared.settings.base_url),
        "code": registration.code,
        "expires_at": registration.device.registration_expires_at.isoformat(),
    }


def echo_link(link: dict[str, Any]) -> None:
    click.echo(f"device registration link for {link['username']} ({link['label']}), works once,")
    click.echo(f"until {link['expires_at']}; open it in the browser the operator will use:")
    click.echo(f"  {link['url']}")


@click.group()
def device() -> None:
    """Registered devices: operators sign in only from browsers registered for them."""


@device.command("add")
@click.argument("username")
@click.option("--label", required=True, help="What the device is, e.g. 'front desk PC'.")
@click.option("--json", "as_json", is_flag=True, help="Print the link as JSON.")
@fail_cleanly
def add(username: str, label: str, as_json: bool) -> None:
    """Print a one-time registration link for USERNAME's next device."""
    prepared = prepare(load_settings(), migrate=False)

    async def go() -> dict[str, Any]:
        async with database_session(prepared.settings) as session:
            return await issue_link(
                session, prepared, await operator_named(session, username), label
            )

    link = run(go())
    if as_json:
        echo_json(link)
    else:
        echo_link(link)


@device.command("list")
@click.argument("username", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@fail_cleanly
def list_(username: str | None, as_json: bool) -> None:
    """List registered devices and unused links (USERNAME's only, if given)."""
    from sqlalchemy import select

    from optin.db.models import Operator
    from optin.services.operator_devices import describe_device, list_devices

    settings = load_settings()

    async def go() -> list[dict[str, Any]]:
        async with database_session(settings) as session:
            only = await operator_named(session, username) if username else None
            names = {o.id: o.username for o in (await session.scalars(select(Operator))).all()}
            devices = await list_devices(session, only.id if only else None)
            return [describe_device(d, names[d.operator_id]) for d in devices]

    rows = run(go())
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        used = row["last_used_at"] or "never used"
        click.echo(f"{row['id']}  {row['username']:<20} {row['state']:<10} {row['label']}  {used}")


@device.command("revoke")
@click.argument("device_id", type=click.UUID)
@click.option("--json", "as_json", is_flag=True, help="Print the revoked device as JSON.")
@fail_cleanly
def revoke(device_id: Any, as_json: bool) -> None:
    """Revoke a device (its id from `list`); sessions opened on it end at once."""
    from optin.services.audit import Actor
    from optin.services.operator_devices import describe_device
    from optin.services.operators import revoke_device

    settings = load_settings()

    async def go() -> dict[str, Any]:
        async with database_session(settings) as session:
            return describe_device(await revoke_device(session, device_id, Actor.system()))

    revoked = run(go())
    if as_json:
        echo_json(revoked)
    else:
        click.echo(f"device {revoked['id']} ({revoked['label']}) revoked")
