"""Bring a data directory to a state the service can run on, and open its keys.

Creates the private data directory, the master keyring, the subject key store and the signing
key on first run (0600), refuses key files others can read, and optionally upgrades the database
schema. ``serve`` and ``demo`` call ``prepare``; the web app opens the same keys at start.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from optin.backup.journal import ErasureJournal, ErasureRecorder
from optin.config import Settings
from optin.crypto.keys import LocalKeyFileProvider
from optin.crypto.signing import Signer
from optin.crypto.subject_keys import SqliteSubjectKeyStore, SubjectKeys
from optin.crypto.tokens import TokenHasher


@dataclass(frozen=True)
class Keys:
    master: LocalKeyFileProvider
    subjects: SubjectKeys
    signer: Signer
    tokens: TokenHasher
    # Every erasure is journaled before the person's key is destroyed (optin.backup.journal).
    erasures: ErasureRecorder


def open_keys(settings: Settings) -> Keys:
    master = LocalKeyFileProvider(settings.master_key_file)
    return Keys(
        master=master,
        subjects=SubjectKeys(master, SqliteSubjectKeyStore(settings.subject_keys_file)),
        signer=Signer.load_or_create(settings.signing_key_file),
        tokens=TokenHasher.from_provider(master),
        erasures=ErasureJournal(settings.erasure_journal_file),
    )


@dataclass(frozen=True)
class Prepared:
    settings: Settings
    keys: Keys
    schema_revision: str | None


def prepare(settings: Settings, *, migrate: bool) -> Prepared:
    from optin.db import migrate as migrations

    # Everything the service writes (database, keys, caches) is for its own user only.
    os.umask(0o077)
    settings.ensure_data_dir()
    keys = open_keys(settings)
    revision = None
    if migrate:
        migrations.upgrade(settings.database_url)
        revision = migrations.current_revision(settings.database_url)
    return Prepared(settings=settings, keys=keys, schema_revision=revision)
