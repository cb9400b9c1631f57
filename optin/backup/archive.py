"""A backup folder: its files, and ``manifest.json`` naming each with its size and SHA-256.

The manifest is written last, so a folder without one is an unfinished backup. Before anything
is restored every file is checked against it; one wrong byte and nothing is restored. The folder
is created 0700 and every file 0600: a database backup holds the master keyring.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from optin.crypto.files import PRIVATE_DIR_MODE, create_private_file
from optin.errors import OptinError

MANIFEST: Final = "manifest.json"
FORMAT: Final = "optin-backup"
FORMAT_VERSION: Final = 1

Kind = Literal["database", "subject-keys"]
KINDS: Final = ("database", "subject-keys")
# The only names a manifest may list: nothing outside the folder, nothing unexpected.
FILE_NAMES: Final = frozenset(
    {"database.sqlite3", "database.pgdump", "master.key", "signing.key", "subject-keys.db"}
)
_CHUNK = 1 << 20


class BackupDamaged(OptinError):
    """The backup folder is incomplete or does not match its manifest: nothing is restored."""

    code = "backup-damaged"
    title = "Backup damaged"
    status = 422


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Manifest:
    kind: Kind
    created_at: datetime
    optin_version: str
    files: Mapping[str, Mapping[str, Any]]
    # Database backups: the backend and the alembic revision the copy is at.
    database: str | None = None
    schema_revision: str | None = None
    subject_keys: int | None = None

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "optin_version": self.optin_version,
            "database": self.database,
            "schema_revision": self.schema_revision,
            "subject_keys": self.subject_keys,
            "files": {name: dict(info) for name, info in sorted(self.files.items())},
        }
        return (json.dumps(document, indent=2) + "\n").encode()

    @classmethod
    def parse(cls, data: bytes, where: Path) -> Manifest:
        try:
            document = json.loads(data)
            if document.get("format") != FORMAT or document.get("version") != FORMAT_VERSION:
                raise ValueError(f"not an {FORMAT} v{FORMAT_VERSION} manifest")
            kind = document["kind"]
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}")
            files = document["files"]
            if not isinstance(files, dict) or not files:
                raise ValueError("it lists no files")
            for name, info in files.items():
                if name not in FILE_NAMES:
                    raise ValueError(f"unexpected file name {name!r}")
                if not isinstance(info.get("sha256"), str) or not isinstance(
                    info.get("bytes"), int
                ):
                    raise ValueError(f"{name}: sha256 and bytes are required")
            return cls(
                kind=kind,
                created_at=datetime.fromisoformat(document["created_at"]),
                optin_version=str(document.get("optin_version")),
                files=files,
                database=document.get("database"),
                schema_revision=document.get("schema_revision"),
                subject_keys=document.get("subject_keys"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupDamaged(f"{where / MANIFEST} is not a valid manifest: {exc}") from None


class BackupWriter:
    """Fills a new, private backup folder; ``finish`` writes the manifest."""

    def __init__(self, folder: Path) -> None:
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise OptinError(f"{folder} already exists and is not an empty folder")
        folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        folder.chmod(PRIVATE_DIR_MODE)
        self.folder = folder
        self._files: dict[str, dict[str, Any]] = {}

    def path(self, name: str) -> Path:
        assert name in FILE_NAMES
        return self.folder / name

    def add_bytes(self, name: str, data: bytes) -> None:
        create_private_file(self.path(name), data)
        self.added(name)

    def added(self, name: str) -> None:
        """Record a file written into the folder by someone else (a database copy)."""
        path = self.path(name)
        path.chmod(0o600)
        self._files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}

    def finish(self, kind: Kind, **fields: Any) -> Manifest:
        manifest = Manifest(
            kind=kind,
            created_at=datetime.now(UTC),
            files=self._files,
            **fields,
        )
        create_private_file(self.folder / MANIFEST, manifest.to_json())
        return manifest


def verify(folder: Path) -> Manifest:
    """The folder's manifest, once every file it names is present and unchanged."""
    try:
        data = (folder / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise BackupDamaged(
            f"{folder} has no {MANIFEST}: it is not a backup, or the backup never finished"
        ) from None
    manifest = Manifest.parse(data, folder)
    for name, info in sorted(manifest.files.items()):
        path = folder / name
        if not path.is_file():
            raise BackupDamaged(f"{path} is missing; nothing was restored")
        size = path.stat().st_size
        if size != info["bytes"]:
            raise BackupDamaged(
                f"{path} has {size} bytes, the manifest says {info['bytes']}: the file is "
                "truncated or damaged; nothing was restored"
            )
        actual = sha256_file(path)
        if actual != info["sha256"]:
            raise BackupDamaged(
                f"{path} is damaged: its SHA-256 is {actual[:16]}…, the manifest says "
                f"{info['sha256'][:16]}…; nothing was restored"
            )
    return manifest
