"""Backups and restores that cannot bring a deleted person back.

- ``journal``: the erasure journal, an append-only file in the data directory (never in a backup)
  naming every person erased and when; a restore replays it.
- ``archive``: a backup folder, its files and its manifest (SHA-256 of every file).
- ``databases``: SQLite through the online backup API, PostgreSQL through pg_dump/pg_restore.
- ``operations``: ``create_backup``, ``backup_subject_keys`` and ``restore`` as the CLI runs them.
- ``lock``: ``optin serve`` holds a shared lock on the data directory; a restore needs it free.
"""
