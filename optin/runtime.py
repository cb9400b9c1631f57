"""Bring a data directory to a state the service can run on.

Creates the private data directory, the master keyring and the subject key store on first run
(0600),
refuses key files others can read, and optionally upgrades the database schema. Every entry point
that serves or changes data (``serve``, ``demo``) calls ``prepare`` first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from optin.config import Settings
from optin.crypto.keys import LocalKeyFileProvider
from optin.crypto.subject_keys import SqliteSubjectKeyStore, SubjectKeys


@dataclass(frozen=True)
class Prepared:
    settings: Settings
    master_keys: LocalKeyFileProvider
    subject_keys: SubjectKeys
    schema_revision: str | None


def prepare(settings: Settings, *, migrate: bool) -> Prepared:
    from optin.db import migrate as migrations

    # Everything the service writes (database, keys, caches) is for its own user only.
    os.umask(0o077)
    settings.ensure_data_dir()
    master_keys = LocalKeyFileProvider(settings.master_key_file)
    revision = None
    if migrate:
        migrations.upgrade(settings.database_url)
        revision = migrations.current_revision(settings.database_url)
    subject_keys = SubjectKeys(master_keys, SqliteSubjectKeyStore(settings.subject_keys_file))
    return Prepared(
        settings=settings,
        master_keys=master_keys,
        subject_keys=subject_keys,
        schema_revision=revision,
    )
