"""``optin gate``: register, list and revoke gates (and run one, see gate_agent)."""

from __future__ import annotations

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
def gate() -> None:
    """Gates: the venue-side agents that recognise enrolled people."""


@gate.command("register")
@click.option("--venue", "venue_slug", required=True, help="Slug of the gate's venue.")
@click.option("--name", required=True, help="e.g. 'Main entrance'.")
@click.option("--json", "as_json", is_flag=True, help='Print {"gate_id", "venue", "token"}.')
@fail_cleanly
def register(venue_slug: str, name: str, as_json: bool) -> None:
    """Register a gate and print its token ONCE (only its HMAC is stored)."""
    from optin.services.gates import register_gate

    prepared = prepare(load_settings(), migrate=False)

    async def go() -> dict[str, str]:
        async with database_session(prepared.settings) as session:
            created, token = await register_gate(session, prepared.keys.tokens, venue_slug, name)
            await session.commit()
            return {"gate_id": str(created.id), "venue": venue_slug, "token": token}

    result = run(go())
    if as_json:
        echo_json(result)
        return
    click.echo(f"gate {result['gate_id']} registered at {venue_slug}")
    click.echo(f"token (shown once, keep it in the gate's token file): {result['token']}")


@gate.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@fail_cleanly
def list_(as_json: bool) -> None:
    """List gates with their venue and when each was last seen."""
    from optin.services.gates import list_gates

    settings = load_settings()

    async def go() -> list[dict[str, Any]]:
        async with database_session(settings) as session:
            return [
                {
                    "gate_id": str(g.id),
                    "venue": v.slug,
                    "name": g.name,
                    "last_seen_at": g.last_seen_at.isoformat() if g.last_seen_at else None,
                    "revoked": g.revoked_at is not None,
                }
                for g, v in await list_gates(session)
            ]

    rows = run(go())
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        state = "revoked" if row["revoked"] else f"last seen {row['last_seen_at'] or 'never'}"
        click.echo(f"{row['gate_id']}  {row['venue']:<20} {row['name']:<24} {state}")


@gate.command("revoke")
@click.argument("gate_id")
@fail_cleanly
def revoke(gate_id: str) -> None:
    """Revoke a gate: its token stops working at once."""
    from optin.services.gates import revoke_gate

    try:
        parsed = UUID(gate_id)
    except ValueError:
        raise CommandFailed(f"{gate_id!r} is not a gate id") from None
    settings = load_settings()

    async def go() -> None:
        async with database_session(settings) as session:
            await revoke_gate(session, parsed)
            await session.commit()

    run(go())
    click.echo(f"gate {gate_id} revoked")


def _attach_agent() -> None:
    # The agent is its own program (python -m gate_agent); `optin gate run` is the same command.
    from gate_agent.cli import run as agent_run

    gate.add_command(agent_run, "run")


_attach_agent()
