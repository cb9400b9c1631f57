"""``optin keys``: rotate the master key and see what each master key still protects."""

from __future__ import annotations

from typing import Any

import click

from optin.cli.common import database_session, echo_json, fail_cleanly, load_settings, run
from optin.runtime import prepare


@click.group()
def keys() -> None:
    """Master keys: rotation (no downtime) and usage."""


@keys.command("rotate")
@click.option("--json", "as_json", is_flag=True, help="Print the new key id and counts as JSON.")
@fail_cleanly
def rotate(as_json: bool) -> None:
    """Add a new master key and re-wrap every data key, venue key and TOTP secret under it.

    Running servers keep working: old keys stay in the keyring, and a server reloads the keyring
    the first time it meets the new key id. Data itself is not re-encrypted.
    """
    from optin.services.key_rotation import rotate_master_key

    prepared = prepare(load_settings(), migrate=False)

    async def go() -> dict[str, Any]:
        async with database_session(prepared.settings) as session:
            return (await rotate_master_key(session, prepared.keys)).as_dict()

    result = run(go())
    if as_json:
        echo_json(result)
        return
    counts = result["rewrapped"]
    click.echo(f"new master key {result['new_key_id']} is current")
    click.echo(
        f"re-wrapped {counts['subject_keys']} personal data keys, {counts['venue_keys']} venue "
        f"keys and {counts['totp_secrets']} operator TOTP secrets"
    )


@keys.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print usage per key id as JSON.")
@fail_cleanly
def status(as_json: bool) -> None:
    """Which master key is current, and how many wrapped keys each master key still protects."""
    from optin.services.key_rotation import usage

    prepared = prepare(load_settings(), migrate=False)

    async def go() -> dict[str, Any]:
        async with database_session(prepared.settings) as session:
            return {
                "current": prepared.keys.master.current_key_id,
                "keys": await usage(session, prepared.keys),
            }

    result = run(go())
    if as_json:
        echo_json(result)
        return
    for key_id, counts in result["keys"].items():
        mark = " (current)" if key_id == result["current"] else ""
        click.echo(
            f"{key_id}{mark}: {counts['subject_keys']} personal data keys, "
            f"{counts['venue_keys']} venue keys, {counts['totp_secrets']} TOTP secrets"
        )
