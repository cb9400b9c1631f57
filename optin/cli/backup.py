"""``optin backup``: back up the database with its keys, the subject key store apart; restore."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from optin.cli.common import echo_json, fail_cleanly, load_settings, run

FOLDER = click.Path(path_type=Path, file_okay=False)


@click.group()
def backup() -> None:
    """Backups that cannot bring a deleted person back.

    \b
    optin backup create --out DIR        database + master keyring + signing key
    optin backup subject-keys --out DIR  the subject key store, on its own (keep it briefly)
    optin backup verify --from DIR       check every file against the manifest
    optin backup restore --from DIR      either kind; then replays the erasure journal

    A restore re-erases everyone deleted since the backup (the erasure journal in the data
    directory, never part of a backup, names them). Stop the server before restoring.
    """


@backup.command("create")
@click.option("--out", "out", type=FOLDER, required=True, help="A new (or empty) folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@fail_cleanly
def create(out: Path, as_json: bool) -> None:
    """Back up the database (online), the master keyring and the signing key, with a manifest.

    The subject key store is NOT included: back it up with `optin backup subject-keys`.
    """
    from optin.backup.operations import create_backup

    os.umask(0o077)
    manifest = run(create_backup(load_settings(), out))
    if as_json:
        echo_json(_manifest_json(out, manifest))
        return
    click.echo(
        f"backup of the {manifest.database} database (schema {manifest.schema_revision}) "
        f"with its master keyring and signing key written to {out}"
    )
    click.echo("it holds the master keyring: keep it as secret as the keys themselves")


@backup.command("subject-keys")
@click.option("--out", "out", type=FOLDER, required=True, help="A new (or empty) folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@fail_cleanly
def subject_keys(out: Path, as_json: bool) -> None:
    """Back up the subject key store on its own (keep such backups briefly and apart)."""
    from optin.backup.operations import backup_subject_keys

    os.umask(0o077)
    manifest = run(backup_subject_keys(load_settings(), out))
    if as_json:
        echo_json(_manifest_json(out, manifest))
        return
    click.echo(f"{manifest.subject_keys} subject data keys written to {out}")


@backup.command("verify")
@click.option("--from", "folder", type=FOLDER, required=True, help="A backup folder.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@fail_cleanly
def verify(folder: Path, as_json: bool) -> None:
    """Check every file of a backup against its manifest (exit 2 naming the first bad one)."""
    from optin.backup.operations import verify as verify_backup

    manifest = verify_backup(folder)
    if as_json:
        echo_json(_manifest_json(folder, manifest))
        return
    click.echo(
        f"{folder}: {manifest.kind} backup of {manifest.created_at.isoformat()}, "
        f"{len(manifest.files)} file(s) intact"
    )


@backup.command("restore")
@click.option("--from", "folder", type=FOLDER, required=True, help="A backup folder.")
@click.option(
    "--journal",
    "journals",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Another copy of the erasure journal (e.g. kept off the machine) to replay as well; "
    "repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@fail_cleanly
def restore(folder: Path, journals: tuple[Path, ...], as_json: bool) -> None:
    """Restore a backup made by `create` or `subject-keys`, then replay the erasure journal.

    Refused while `optin serve` runs on this data directory or, for PostgreSQL, while anything
    else is connected to the database. Every file is checked first; nothing changes if one is
    damaged.
    """
    from optin.backup.operations import restore as restore_backup

    os.umask(0o077)
    report = run(restore_backup(load_settings(), folder, journals))
    if as_json:
        echo_json(report)
        return
    for line in _report_lines(report):
        click.echo(line)


def _manifest_json(folder: Path, manifest: Any) -> dict[str, Any]:
    return {
        "folder": str(folder),
        "kind": manifest.kind,
        "created_at": manifest.created_at.isoformat(),
        "database": manifest.database,
        "schema_revision": manifest.schema_revision,
        "subject_keys": manifest.subject_keys,
        "files": {name: dict(info) for name, info in manifest.files.items()},
    }


def _report_lines(report: dict[str, Any]) -> list[str]:
    when = report["backup_created_at"]
    if report["kind"] == "subject-keys":
        return [
            f"subject keys restored from {report['from']} (backup of {when}): "
            f"{report['keys_put_back']} put back, {report['keys_already_present']} already "
            "present",
            f"erasure journal: {report['erased_skipped']} key(s) of people erased since were "
            f"not put back; {report['erased_keys_destroyed']} destroyed again",
            *(
                [f"warning: {report['keys_not_opening']} key(s) do not open with this keyring"]
                if report["keys_not_opening"]
                else []
            ),
        ]
    lines = [
        f"{report['database']} database restored from {report['from']} (backup of {when})",
        f"master keyring: {report['keys']['master_keyring']}; "
        f"signing key: {report['keys']['signing_key']}",
    ]
    if report["migrated"]:
        lines.append(
            f"schema upgraded from {report['schema_revision_in_backup'] or 'nothing'} "
            f"to {report['schema_revision']}"
        )
    lines.append(
        f"gates: {report['venues_resynced']} venue(s) start their gates from a fresh gallery"
    )
    lines.append(
        f"erasure journal: {report['journal_entries']} erased person(s) listed; "
        f"{report['re_erased']} were back in the backup and are erased again (keys destroyed, "
        f"records stripped, gates told); {report['already_erased_in_backup']} were already "
        "erased in it"
    )
    lines.append(
        f"withdrawals: {report['journal_withdrawals']} listed; {report['re_withdrawn']} were "
        "live in the backup and are withdrawn again at their original time"
    )
    if report["journal_unreadable_lines"]:
        lines.append(
            f"warning: {report['journal_unreadable_lines']} journal line(s) could not be read"
        )
    if report["active_without_key"]:
        lines.append(
            f"warning: {report['active_without_key']} person(s) in the restored database have no "
            "data key here: restore the subject key backup (optin backup restore --from DIR)"
        )
    if report["keys_without_person"]:
        lines.append(
            f"note: {report['keys_without_person']} data key(s) belong to people enrolled after "
            "the backup; their records are not in it"
        )
    return lines
