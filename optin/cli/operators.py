"""``optin operator``: console accounts (the first administrator is made here) and, under
``optin operator device``, the devices they may sign in from."""

from __future__ import annotations

import sys
from typing import Any

import click

from optin.cli.common import database_session, echo_json, fail_cleanly, load_settings, run
from optin.cli.operator_devices import device, echo_link, issue_link, operator_named
from optin.runtime import prepare
from optin.services.operator_access import DEFAULT_HOURS, DEFAULT_NETWORKS

ROLES = ("administrator", "privacy_officer", "venue_staff", "auditor")


@click.group()
def operator() -> None:
    """Console operators: administrators, privacy officers, venue staff and auditors."""


operator.add_command(device)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@operator.command("create")
@click.option("--username", required=True, help="Sign-in name (a-z, 0-9, . _ -).")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account may do.")
@click.option("--venue", "venue_slug", help="The venue of a venue_staff account.")
@click.option(
    "--network",
    "networks",
    multiple=True,
    help="Allowed network in CIDR (repeatable). Default: this host and private LANs.",
)
@click.option(
    "--hours",
    "hours",
    multiple=True,
    help="Allowed weekly window, e.g. 'mon-fri 08:00-19:00' (repeatable). Default: any time.",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from stdin instead of a prompt."
)
@click.option(
    "--device-label",
    default="first device",
    show_default=True,
    help="Name of the device the printed registration link registers.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the account and TOTP secret as JSON.")
@fail_cleanly
def create(
    username: str,
    role: str,
    venue_slug: str | None,
    networks: tuple[str, ...],
    hours: tuple[str, ...],
    password_stdin: bool,
    device_label: str,
    as_json: bool,
) -> None:
    """Create an operator and print its TOTP secret ONCE (add it to an authenticator app), and
    a one-time link that registers the browser it is opened in as the operator's device."""
    from optin.db.enums import OperatorRole
    from optin.services.audit import Actor
    from optin.services.operators import create_operator
    from optin.services.venues import venues_by_slug

    prepared = prepare(load_settings(), migrate=False)
    password = _read_password(password_stdin)

    async def go() -> dict[str, Any]:
        async with database_session(prepared.settings) as session:
            venue_id = (await venues_by_slug(session, [venue_slug]))[0].id if venue_slug else None
            created = await create_operator(
                session,
                prepared.keys.master,
                username=username,
                password=password,
                role=OperatorRole(role),
                venue_id=venue_id,
                networks=networks or DEFAULT_NETWORKS,
                hours=hours or DEFAULT_HOURS,
                actor=Actor.system(),
            )
            return {
                "id": str(created.operator.id),
                "username": created.operator.username,
                "role": role,
                "networks": created.operator.allowed_networks,
                "hours": created.operator.allowed_hours,
                "totp_secret": created.totp_secret,
                "totp_uri": created.provisioning_uri,
                # Sign-in works only from a registered device: this registers the first one.
                "device_registration": await issue_link(
                    session, prepared, created.operator, device_label
                ),
            }

    result = run(go())
    if as_json:
        echo_json(result)
        return
    click.echo(f"operator {result['username']} ({role}) created")
    click.echo(f"allowed networks: {', '.join(result['networks'])}")
    click.echo(f"allowed hours: {', '.join(result['hours'])}")
    click.echo("TOTP secret (shown once; add it to an authenticator app):")
    click.echo(f"  {result['totp_secret']}")
    click.echo(f"  {result['totp_uri']}")
    echo_link(result["device_registration"])


@operator.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@fail_cleanly
def list_(as_json: bool) -> None:
    """List operators with role, lock-out and last sign-in."""
    from sqlalchemy import select

    from optin.db.models import Operator

    settings = load_settings()

    async def go() -> list[dict[str, Any]]:
        async with database_session(settings) as session:
            rows = await session.scalars(select(Operator).order_by(Operator.username))
            return [
                {
                    "username": o.username,
                    "role": str(o.role),
                    "locked_until": o.locked_until.isoformat() if o.locked_until else None,
                    "disabled": o.disabled_at is not None,
                    "last_sign_in_at": o.last_sign_in_at.isoformat() if o.last_sign_in_at else None,
                }
                for o in rows.all()
            ]

    rows = run(go())
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "disabled" if row["disabled"] else "locked" if row["locked_until"] else "active"
        click.echo(f"{row['username']:<24} {row['role']:<16} {state}")


@operator.command("unlock")
@click.argument("username")
@fail_cleanly
def unlock_(username: str) -> None:
    """Lift a lock-out after too many failed sign-ins."""
    from optin.services.audit import Actor
    from optin.services.operators import unlock

    settings = load_settings()

    async def go() -> None:
        async with database_session(settings) as session:
            await unlock(session, await operator_named(session, username), Actor.system())

    run(go())
    click.echo(f"{username} unlocked")
