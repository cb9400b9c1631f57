"""What ``optin backup`` does: take the two kinds of backup, check one, restore one.

- A **database backup** holds the database, the master keyring and the signing key.
- A **subject key backup** holds the subject key store, nothing else, and is taken separately
  (keep it briefly): with the database it would decrypt everyone in that database, including
  people deleted after it was taken.

A restore never brings a deleted person back: it replays the erasure journal (``journal.py``),
which no backup contains and no restore overwrites. Restoring the database re-erases, in the
restored copy, everyone the journal names (their key destroyed again, their rows stripped, a
revocation for every gate), then withdraws again, at their original time, the consents the
journal lists as withdrawn (a revocation or refreshed entry for the gates, and the face template
erased again when it was the last one); restoring subject keys only puts back keys that are
missing from the store, never an erased person's. A restore is refused while ``optin serve`` runs
on the data directory or, for PostgreSQL, while anything else is connected to the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool

from optin import __version__
from optin.backup import archive
from optin.backup.archive import BackupDamaged, BackupWriter, Manifest
from optin.backup.databases import (
    BackupFailed,
    backend_of,
    database_file_name,
    pg_dump,
    pg_other_connections,
    pg_restore,
    sqlite_backup,
    sqlite_restore,
    sqlite_revision,
)
from optin.backup.journal import ErasureJournal, NotRecorded, Withdrawal
from optin.backup.lock import ServiceRunning, exclusive
from optin.config import Settings
from optin.crypto.files import (
    check_private_file,
    create_private_file,
    locked,
    read_private_file,
    replace_private_file,
)
from optin.crypto.keys import Keyring
from optin.crypto.subject_keys import SqliteSubjectKeyStore
from optin.errors import ConfigurationError, OptinError
from optin.runtime import Keys, open_keys

MASTER_KEY = "master.key"
SIGNING_KEY = "signing.key"
SUBJECT_KEYS = "subject-keys.db"
# Without the pre-restore sequence numbers (the database was lost), every venue's change log
# jumps this far, past any number a gate can have seen, so every gate starts from a snapshot.
UNKNOWN_SEQUENCE_JUMP = 1_000_000


# --- Taking backups ------------------------------------------------------------------------------


def _discard(writer: BackupWriter) -> None:
    shutil.rmtree(writer.folder, ignore_errors=True)


async def create_backup(settings: Settings, out: Path) -> Manifest:
    """The database (a consistent online copy), then the keyring and signing key it needs."""
    from optin.db.migrate import current_revision

    backend = backend_of(settings.database_url)
    writer = BackupWriter(out)
    try:
        name = database_file_name(backend)
        target = writer.path(name)
        if backend == "sqlite":
            await asyncio.to_thread(sqlite_backup, settings.database_url, target)
            revision = await asyncio.to_thread(sqlite_revision, target)
        else:
            revision = await asyncio.to_thread(current_revision, settings.database_url)
            await asyncio.to_thread(pg_dump, settings.database_url, target)
        writer.added(name)
        # Read after the copy: a rotation meanwhile only adds keys, so this keyring opens it.
        for member, path, what in (
            (MASTER_KEY, settings.master_key_file, "master key file"),
            (SIGNING_KEY, settings.signing_key_file, "signing key file"),
        ):
            writer.add_bytes(member, _read_key_file(path, what))
        return writer.finish(
            "database", optin_version=__version__, database=backend, schema_revision=revision
        )
    except BaseException:
        _discard(writer)
        raise


async def backup_subject_keys(settings: Settings, out: Path) -> Manifest:
    """The subject key store alone (its own folder, its own manifest)."""
    source = settings.subject_keys_file
    if not source.is_file():
        raise BackupFailed(f"there is no subject key store at {source}")
    check_private_file(source, what="subject key store")
    writer = BackupWriter(out)
    try:
        target = writer.path(SUBJECT_KEYS)

        def copy() -> int:
            with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
                src.backup(dst)
                return int(dst.execute("SELECT count(*) FROM subject_keys").fetchone()[0])

        count = await asyncio.to_thread(copy)
        writer.added(SUBJECT_KEYS)
        return writer.finish("subject-keys", optin_version=__version__, subject_keys=count)
    except BaseException:
        _discard(writer)
        raise


def _read_key_file(path: Path, what: str) -> bytes:
    try:
        return read_private_file(path, what=what)
    except FileNotFoundError:
        raise BackupFailed(f"there is no {what} at {path}") from None


# --- Restoring -----------------------------------------------------------------------------------


def verify(folder: Path) -> Manifest:
    return archive.verify(folder)


async def restore(
    settings: Settings, folder: Path, extra_journals: Sequence[Path] = ()
) -> dict[str, Any]:
    """Check the backup, then restore it and replay the erasure journal (see the docstring)."""
    manifest = archive.verify(folder)
    extra = []
    for path in extra_journals:
        if not path.is_file():
            raise ConfigurationError(f"erasure journal {path} does not exist")
        extra.append(ErasureJournal(path))
    with exclusive(settings):
        if manifest.kind == "database":
            return await _restore_database(settings, folder, manifest, extra)
        return await _restore_subject_keys(settings, folder, manifest, extra)


async def _restore_database(
    settings: Settings, folder: Path, manifest: Manifest, extra: Sequence[ErasureJournal]
) -> dict[str, Any]:
    from optin.db import migrate

    url = settings.database_url
    backend = backend_of(url)
    if manifest.database != backend:
        raise BackupFailed(
            f"this is a backup of a {manifest.database} database, but the configured database "
            f"(OPTIN_DATABASE_URL) is {backend}"
        )
    if manifest.schema_revision is not None and not _known_revision(manifest.schema_revision):
        raise BackupFailed(
            f"the backup's schema revision {manifest.schema_revision} is unknown to this version "
            f"of optin ({__version__}): restore it with the version that made it"
        )
    if backend == "postgresql":
        try:
            others = await pg_other_connections(url)
        except (SQLAlchemyError, OSError) as exc:
            raise BackupFailed(f"cannot reach the database: {type(exc).__name__}") from None
        if others:
            raise ServiceRunning(
                f"{others} other session(s) are connected to the database: stop the app and "
                "every other client first (e.g. `docker compose stop app gate`), then restore"
            )
    key_steps = _plan_keys(settings, folder)
    sequences_before = await _venue_sequences(url)

    backup_file = folder / database_file_name(backend)
    if backend == "sqlite":
        await asyncio.to_thread(sqlite_restore, backup_file, url)
    else:
        await pg_restore(backup_file, url)
    key_report = {name: step() for name, step in key_steps.items()}

    head = migrate.head_revision()
    migrated = manifest.schema_revision != head
    if migrated:
        await asyncio.to_thread(migrate.upgrade, url)

    keys = open_keys(settings)
    venues = await _resync_gates(url, sequences_before)
    replay = await _replay(settings, keys, extra, manifest)
    coverage = await _key_coverage(url, keys)
    return {
        "kind": "database",
        "from": str(folder),
        "backup_created_at": manifest.created_at.isoformat(),
        "database": backend,
        "schema_revision_in_backup": manifest.schema_revision,
        "schema_revision": head,
        "migrated": migrated,
        "keys": key_report,
        "venues_resynced": venues,
        **replay,
        **coverage,
    }


async def _restore_subject_keys(
    settings: Settings, folder: Path, manifest: Manifest, extra: Sequence[ErasureJournal]
) -> dict[str, Any]:
    from optin.crypto.keys import LocalKeyFileProvider
    from optin.crypto.subject_keys import SubjectKeys

    master = LocalKeyFileProvider(settings.master_key_file, create=False)
    erased = _erased_ids(settings, extra)
    try:
        store = SqliteSubjectKeyStore(settings.subject_keys_file)
        present = set(store.subject_ids())
    except sqlite3.DatabaseError:
        raise BackupFailed(
            f"the subject key store at {settings.subject_keys_file} cannot be read: move it "
            "aside, then restore again (keys the backup does not hold are lost with it)"
        ) from None
    keys = SubjectKeys(master, store)
    put_back = skipped_erased = unreadable = 0
    uri = f"file:{(folder / SUBJECT_KEYS).resolve()}?mode=ro&immutable=1"
    with closing(sqlite3.connect(uri, uri=True)) as backup:
        rows = backup.execute("SELECT subject_id, wrapped FROM subject_keys").fetchall()
    for raw_id, wrapped in rows:
        subject_id = UUID(bytes=bytes(raw_id))
        if subject_id in erased:
            skipped_erased += 1
            continue
        if subject_id in present:
            continue
        store.put(subject_id, bytes(wrapped))
        put_back += 1
        try:
            keys.get(subject_id)
        except OptinError:
            unreadable += 1
    destroyed = sum(1 for subject_id in erased if keys.destroy(subject_id))
    return {
        "kind": "subject-keys",
        "from": str(folder),
        "backup_created_at": manifest.created_at.isoformat(),
        "keys_in_backup": len(rows),
        "keys_put_back": put_back,
        "keys_already_present": len(rows) - put_back - skipped_erased,
        "erased_skipped": skipped_erased,
        "erased_keys_destroyed": destroyed,
        "keys_not_opening": unreadable,
    }


def _known_revision(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    from optin.db.migrate import alembic_config

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


# --- Keys ----------------------------------------------------------------------------------------


def _plan_keys(settings: Settings, folder: Path) -> dict[str, Callable[[], str]]:
    """Decide, before anything changes, how the backup's key files join the current ones.

    Missing here: the backup's file is restored. The same: nothing to do. A master keyring
    with the same derivation key: merged (the current keyring keeps its current key and gains any
    older key only the backup has). Anything else (an unrelated keyring, a different signing key)
    is refused: replacing it would orphan whatever it protects now.
    """
    steps: dict[str, Callable[[], str]] = {}
    backup_master = (folder / MASTER_KEY).read_bytes()
    backup_signing = (folder / SIGNING_KEY).read_bytes()
    try:
        backup_ring = Keyring.from_json(backup_master)
    except ValueError as exc:
        raise BackupDamaged(f"the backup's master keyring is not valid: {exc}") from None

    master_path = settings.master_key_file
    current_master = _existing(master_path, "master key file")
    if current_master is None:
        steps["master_keyring"] = lambda: _write_new(master_path, backup_master, "restored")
    elif current_master == backup_master:
        steps["master_keyring"] = lambda: "unchanged"
    else:
        try:
            current_ring = Keyring.from_json(current_master)
        except ValueError as exc:
            raise ConfigurationError(f"{master_path} is not a valid keyring: {exc}") from None
        if current_ring.derivation_key != backup_ring.derivation_key:
            raise ConfigurationError(
                f"the master keyring at {master_path} is not the backup's (another installation, "
                "or one created after a loss): move it aside if the backup's should replace it, "
                "then restore again; nothing was restored"
            )
        missing = [key_id for key_id in backup_ring.keys if key_id not in current_ring.keys]
        if not missing:
            steps["master_keyring"] = lambda: "kept (it holds every key of the backup)"
        else:
            merged = Keyring(
                current=current_ring.current,
                keys={**backup_ring.keys, **current_ring.keys},
                derivation_key=current_ring.derivation_key,
            )

            def merge() -> str:
                with locked(master_path):
                    replace_private_file(master_path, merged.to_json())
                return f"merged: {len(missing)} older key(s) from the backup added"

            steps["master_keyring"] = merge

    signing_path = settings.signing_key_file
    current_signing = _existing(signing_path, "signing key file")
    if current_signing is None:
        steps["signing_key"] = lambda: _write_new(signing_path, backup_signing, "restored")
    elif current_signing == backup_signing:
        steps["signing_key"] = lambda: "unchanged"
    else:
        raise ConfigurationError(
            f"the signing key at {signing_path} differs from the backup's: receipts and audit "
            "checkpoints in the backup were signed with the backup's key. Move the current one "
            "aside if the backup's should replace it, then restore again; nothing was restored"
        )
    return steps


def _existing(path: Path, what: str) -> bytes | None:
    try:
        return read_private_file(path, what=what)
    except FileNotFoundError:
        return None


def _write_new(path: Path, data: bytes, outcome: str) -> str:
    if not create_private_file(path, data):
        raise BackupFailed(f"{path} appeared during the restore; restore again")
    return outcome


# --- After the database is back ------------------------------------------------------------------


async def _venue_sequences(database_url: str) -> dict[UUID, int] | None:
    """Each venue's change-log number before the restore (None if the database cannot say)."""
    from optin.db.engine import create_engine, session_factory
    from optin.db.models import Venue

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(Venue.id, Venue.last_change_seq))).all()
    except (SQLAlchemyError, OSError):
        return None
    finally:
        await engine.dispose()
    return {venue_id: int(seq) for venue_id, seq in rows}


async def _resync_gates(database_url: str, before: dict[UUID, int] | None) -> int:
    """Move every venue's change log past any number its gates hold, as a key rotation does.

    A gate asks for changes since the last number it saw. After a restore the log restarts from
    the backup's numbers, and a gate's "since" could point into a different history; marking the
    new number as a key rotation makes every gate fetch a complete snapshot instead.
    """
    from optin.db.engine import create_engine, session_factory
    from optin.db.models import Venue

    engine = create_engine(database_url, poolclass=NullPool)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(Venue.id, Venue.last_change_seq))).all()
            for venue_id, seq in rows:
                if before is None:
                    new = int(seq) + UNKNOWN_SEQUENCE_JUMP
                else:
                    new = max(int(seq), before.get(venue_id, 0)) + 1
                await session.execute(
                    update(Venue)
                    .where(Venue.id == venue_id)
                    .values(last_change_seq=new, key_rotated_seq=new)
                )
            await session.commit()
    finally:
        await engine.dispose()
    return len(rows)


def _erased_ids(settings: Settings, extra: Sequence[ErasureJournal]) -> set[UUID]:
    return set(_merged_journal(settings, extra).erased)


@dataclasses.dataclass(frozen=True)
class _Merged:
    erased: dict[UUID, datetime]
    withdrawn: dict[UUID, Withdrawal]  # by consent id
    unreadable: int


def _merged_journal(settings: Settings, extra: Sequence[ErasureJournal]) -> _Merged:
    """Every erasure and withdrawal in the local journal and in the copies given; the copies'
    entries missing from the local journal are appended to it, so the next restore knows them."""
    journal = ErasureJournal(settings.erasure_journal_file)
    local = journal.read()
    erased = {entry.subject_id: entry.erased_at for entry in local.erasures}
    withdrawn = {entry.consent_id: entry for entry in local.withdrawals}
    unreadable = local.unreadable_lines
    for copy in extra:
        contents = copy.read()
        unreadable += contents.unreadable_lines
        for entry in contents.erasures:
            if entry.subject_id not in erased:
                journal.record(entry.subject_id, entry.erased_at)
                erased[entry.subject_id] = entry.erased_at
        for withdrawal in contents.withdrawals:
            if withdrawal.consent_id not in withdrawn:
                journal.record_withdrawals([withdrawal])
                withdrawn[withdrawal.consent_id] = withdrawal
    return _Merged(erased, withdrawn, unreadable)


async def _replay(
    settings: Settings, keys: Keys, extra: Sequence[ErasureJournal], manifest: Manifest
) -> dict[str, Any]:
    """Erase again, in the restored database, everyone the erasure journal names; then withdraw
    again every consent it lists that the backup still holds live."""
    from optin.db.engine import create_engine, session_factory
    from optin.db.enums import SubjectStatus
    from optin.db.models import Subject
    from optin.services.audit import Actor, record
    from optin.services.consents import erase

    merged = _merged_journal(settings, extra)
    for subject_id in merged.erased:
        await asyncio.to_thread(keys.subjects.destroy, subject_id)
    replay_keys = dataclasses.replace(keys, erasures=NotRecorded())
    re_erased = already = 0
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            for subject_id, erased_at in merged.erased.items():
                subject = await session.get(Subject, subject_id)
                if subject is None:
                    continue  # enrolled after the backup: not in it
                if subject.status == SubjectStatus.DELETED:
                    already += 1
                    continue
                await erase(session, replay_keys, subject_id)
                await record(
                    session,
                    Actor.system(),
                    "subject.erasure_replayed",
                    subject_id=subject_id,
                    details={
                        "erased_at": erased_at.isoformat(),
                        "backup_created_at": manifest.created_at.isoformat(),
                    },
                )
                await session.commit()
                re_erased += 1
            withdrawn = await _replay_withdrawals(
                session, replay_keys, merged.withdrawn.values(), manifest
            )
            await record(
                session,
                Actor.system(),
                "backup.restored",
                details={
                    "backup_created_at": manifest.created_at.isoformat(),
                    "erasures_replayed": re_erased,
                    "withdrawals_replayed": withdrawn,
                },
            )
            await session.commit()
    finally:
        await engine.dispose()
    return {
        "journal_entries": len(merged.erased),
        "journal_withdrawals": len(merged.withdrawn),
        "journal_unreadable_lines": merged.unreadable,
        "re_erased": re_erased,
        "already_erased_in_backup": already,
        "re_withdrawn": withdrawn,
    }


async def _replay_withdrawals(
    session: AsyncSession, keys: Keys, withdrawals: Iterable[Withdrawal], manifest: Manifest
) -> int:
    """Withdraw again, at its original time, each journaled consent the restored copy holds live.

    Through the services' own withdrawals, so the gates get the revocation and a last withdrawal
    erases the face template again. Consents already withdrawn (or erased with their person) are
    left alone; one given after the backup is not in it, but if it renewed one the backup holds,
    that one is withdrawn instead. Returns how many were withdrawn again.
    """
    from optin.db.enums import Purpose
    from optin.db.models import Consent, ProvisionConsent
    from optin.services.audit import Actor, record
    from optin.services.consents import withdraw
    from optin.services.provisions import set_provision_consent

    replayed = 0
    for entry in sorted(withdrawals, key=lambda entry: entry.withdrawn_at):
        consent: Consent | ProvisionConsent | None = await session.get(
            ProvisionConsent if entry.provision else Consent, entry.consent_id
        )
        if consent is None and entry.purpose is not None and entry.venue_id is not None:
            # Given after the backup, by renewing the one the backup holds: that one goes.
            # (Any live consent in the backup for this purpose and venue predates the journaled
            # one, which the backup lacks, so it predates its withdrawal too.)
            consent = await session.scalar(
                select(Consent).where(
                    Consent.subject_id == entry.subject_id,
                    Consent.purpose == Purpose(entry.purpose),
                    Consent.venue_id == entry.venue_id,
                    Consent.withdrawn_at.is_(None),
                )
            )
        if consent is None or consent.withdrawn_at is not None:
            continue
        # At most one live consent per person and purpose and venue (or recipient): this
        # selects exactly the journaled one.
        if isinstance(consent, ProvisionConsent):
            await set_provision_consent(
                session,
                consent.subject_id,
                consent.recipient_id,
                consent=False,
                journal=keys.erasures,
                withdrawn_at=entry.withdrawn_at,
            )
        else:
            await withdraw(
                session,
                keys,
                consent.subject_id,
                purpose=consent.purpose,
                venue_id=consent.venue_id,
                withdrawn_at=entry.withdrawn_at,
            )
        await record(
            session,
            Actor.system(),
            "consent.withdrawal_replayed",
            subject_id=entry.subject_id,
            details={
                "consent_id": str(consent.id),
                "journaled_consent_id": str(entry.consent_id),
                "provision": entry.provision,
                "withdrawn_at": entry.withdrawn_at.isoformat(),
                "backup_created_at": manifest.created_at.isoformat(),
            },
        )
        await session.commit()
        replayed += 1
    return replayed


async def _key_coverage(database_url: str, keys: Keys) -> dict[str, int]:
    """People in the restored database without a data key, and keys without a person."""
    from optin.db.engine import create_engine, session_factory
    from optin.db.enums import SubjectStatus
    from optin.db.models import Subject

    stored = set(await asyncio.to_thread(keys.subjects.store.subject_ids))
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(Subject.id, Subject.status))).all()
    finally:
        await engine.dispose()
    everyone = {subject_id for subject_id, _ in rows}
    active = {subject_id for subject_id, status in rows if status == SubjectStatus.ACTIVE}
    return {
        "active_without_key": len(active - stored),
        "keys_without_person": len(stored - everyone),
    }
