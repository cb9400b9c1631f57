"""``optin audit``: check, sign and read the hash-chained audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from optin.cli.common import (
    CommandFailed,
    database_session,
    echo_json,
    fail_cleanly,
    load_settings,
    run,
)


@click.group()
def audit() -> None:
    """The audit log: every operator action and look at personal data, hash-chained and signed."""


@audit.command("verify")
@click.option(
    "--jwk",
    "jwk_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key (JWK or JWKS JSON) that signed the checkpoints "
    "[default: this service's signing key].",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help='Print {"ok", "entries", "checkpoints", "seq", "entry_id", "problem"}.',
)
@fail_cleanly
def verify(jwk_file: Path | None, as_json: bool) -> None:
    """Check every entry, the chain head and every signed checkpoint.

    Exit 0 if the log is intact; exit 2 naming the first entry that was changed, removed or
    moved.
    """
    from optin.crypto.signing import Signer, Verifier
    from optin.services.audit import verify_chain

    settings = load_settings()
    if jwk_file is not None:
        key = json.loads(jwk_file.read_text(encoding="utf-8"))
        checker = Verifier.from_jwk(key["keys"][0] if "keys" in key else key)
    else:
        # Load, never create: a fresh key would only make every checkpoint look forged.
        checker = Signer.load(settings.signing_key_file).verifier

    async def go() -> dict[str, Any]:
        async with database_session(settings) as session:
            return (await verify_chain(session, checker)).as_dict()

    report = run(go())
    if as_json:
        echo_json(report)
        if not report["ok"]:
            raise SystemExit(2)
    elif report["ok"]:
        click.echo(
            f"audit log intact: {report['entries']} entries, {report['checkpoints']} checkpoints"
        )
    else:
        raise CommandFailed(
            f"audit log damaged: {report['problem']} (first bad entry: {report['seq']})"
        )


@audit.command("checkpoint")
@click.option("--json", "as_json", is_flag=True, help='Print {"seq", "entry_hash", "key_id"}.')
@fail_cleanly
def checkpoint_(as_json: bool) -> None:
    """Sign the newest entry now (the server also does it every OPTIN_AUDIT_CHECKPOINT_SECONDS)."""
    from optin.runtime import prepare
    from optin.services.audit import checkpoint

    prepared = prepare(load_settings(), migrate=False)

    async def go() -> dict[str, Any] | None:
        async with database_session(prepared.settings) as session:
            made = await checkpoint(session, prepared.keys.signer)
            await session.commit()
            if made is None:
                return None
            return {"seq": made.seq, "entry_hash": made.entry_hash, "key_id": made.key_id}

    made = run(go())
    if as_json:
        echo_json(made)
    elif made is None:
        click.echo("nothing to sign: the log is empty or its newest entry is signed already")
    else:
        click.echo(f"checkpoint at entry {made['seq']} signed with key {made['key_id']}")


@audit.command("list")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=20,
    show_default=True,
    help="How many of the newest entries to show.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the entries as a JSON list.")
@fail_cleanly
def list_(limit: int, as_json: bool) -> None:
    """The newest entries, newest first: seq, time, actor, action, subject and reason."""
    from sqlalchemy import select

    from optin.db.models import AuditEntry

    settings = load_settings()

    async def go() -> list[dict[str, Any]]:
        async with database_session(settings) as session:
            query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
            return [
                {
                    "seq": entry.seq,
                    "occurred_at": entry.occurred_at.isoformat(),
                    "actor": f"{entry.actor_kind}:{entry.actor_id}"
                    if entry.actor_id
                    else str(entry.actor_kind),
                    "action": entry.action,
                    "subject_ref": entry.subject_ref,
                    "reason": entry.reason,
                }
                for entry in (await session.scalars(query)).all()
            ]

    entries = run(go())
    if as_json:
        echo_json(entries)
        return
    if not entries:
        click.echo("the audit log is empty")
    for entry in entries:
        click.echo(
            f"{entry['seq']:>6}  {entry['occurred_at'][:19]}Z  {entry['actor']}  "
            f"{entry['action']}  {entry['subject_ref'] or '-'}  {entry['reason'] or ''}".rstrip()
        )
