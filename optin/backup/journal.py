"""The erasure journal: who was erased, and which consents were withdrawn, kept apart from backups.

A restored database backup holds the people deleted since it was taken; a restored subject key
store backup holds their data keys. Either would bring them back. So every erasure first appends
a line here, ``{"subject_id": "...", "erased_at": "..."}``, and ``optin backup restore`` replays
the journal: it destroys those people's keys again and erases them again in the restored
database. A withdrawal is the same risk on a smaller scale (the restored consent would bring
back the face template its last withdrawal erased, and gates would recognise the person), so each
withdrawn consent appends ``{"withdrawn_consent_id": "...", "subject_id": "...",
"withdrawn_at": "...", "purpose": "...", "venue_id": "..."}`` before its transaction commits (an
agreement to provision to a third party: ``withdrawn_provision_consent_id``, no purpose or
venue), and a restore withdraws it again, after the erasures.
The journal lives in the data directory beside the keys, is never part of a backup and is never
overwritten by a restore; it holds ids and times only (pseudonymous, no personal data).

Appends are one ``write`` on an ``O_APPEND`` descriptor under an exclusive ``flock``, followed by
``fsync``: several server workers can erase at once, and a line that is in the file is on disk.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from uuid import UUID

from optin.crypto.files import PRIVATE_FILE_MODE, ensure_private_dir


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class Erasure:
    subject_id: UUID
    erased_at: datetime


@dataclass(frozen=True)
class Withdrawal:
    consent_id: UUID
    subject_id: UUID
    withdrawn_at: datetime
    # A provision consent (an agreement to give data to a third party), not a consent.
    provision: bool = False
    # A consent's purpose and venue: a restored backup may hold the consent a renewal replaced
    # instead of the journaled one, live for the same purpose and venue.
    purpose: str | None = None
    venue_id: UUID | None = None

    def as_line(self) -> dict[str, str]:
        key = "withdrawn_provision_consent_id" if self.provision else "withdrawn_consent_id"
        line = {
            key: str(self.consent_id),
            "subject_id": str(self.subject_id),
            "withdrawn_at": _utc(self.withdrawn_at),
        }
        if self.purpose is not None and self.venue_id is not None:
            line |= {"purpose": self.purpose, "venue_id": str(self.venue_id)}
        return line


@dataclass(frozen=True)
class JournalContents:
    erasures: list[Erasure]
    withdrawals: list[Withdrawal]
    # Lines that could not be read (a torn last line after a crash); reported, never fatal.
    unreadable_lines: int

    def subject_ids(self) -> list[UUID]:
        """Each erased id once, in the order of first erasure."""
        return list(dict.fromkeys(erasure.subject_id for erasure in self.erasures))


class ErasureRecorder(Protocol):
    def record(self, subject_id: UUID) -> None: ...

    def record_withdrawals(self, withdrawals: Sequence[Withdrawal]) -> None: ...


class ErasureJournal:
    """The journal file (``erasure-journal.jsonl`` in the data directory, mode 0600)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def path(self) -> Path:
        return self._path

    def record(self, subject_id: UUID, erased_at: datetime | None = None) -> None:
        """Append one erasure durably (blocking: call off the event loop)."""
        moment = erased_at or datetime.now(UTC)
        self._append([{"subject_id": str(subject_id), "erased_at": _utc(moment)}])

    def record_withdrawals(self, withdrawals: Sequence[Withdrawal]) -> None:
        """Append one line per withdrawn consent, in one durable write (blocking)."""
        self._append([withdrawal.as_line() for withdrawal in withdrawals])

    def _append(self, entries: Sequence[dict[str, str]]) -> None:
        line = "".join(json.dumps(entry) + "\n" for entry in entries)
        ensure_private_dir(self._path.parent)
        fd = os.open(
            self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = memoryview(line.encode())
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the lock

    def read(self) -> JournalContents:
        """Every erasure and withdrawal recorded so far (an absent journal is an empty one)."""
        erasures: list[Erasure] = []
        withdrawals: list[Withdrawal] = []
        unreadable = 0
        for raw in self._lines():
            try:
                entry = json.loads(raw)
                subject_id = UUID(entry["subject_id"])
                provision = "withdrawn_provision_consent_id" in entry
                if provision or "withdrawn_consent_id" in entry:
                    key = "withdrawn_provision_consent_id" if provision else "withdrawn_consent_id"
                    withdrawals.append(
                        Withdrawal(
                            consent_id=UUID(entry[key]),
                            subject_id=subject_id,
                            withdrawn_at=datetime.fromisoformat(entry["withdrawn_at"]),
                            provision=provision,
                            purpose=entry.get("purpose"),
                            venue_id=UUID(entry["venue_id"]) if "venue_id" in entry else None,
                        )
                    )
                else:
                    erasures.append(Erasure(subject_id, datetime.fromisoformat(entry["erased_at"])))
            except (ValueError, KeyError, TypeError):
                unreadable += 1
        return JournalContents(erasures, withdrawals, unreadable)

    def _lines(self) -> Iterator[str]:
        try:
            with self._path.open(encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if line.strip():
                        yield line
        except FileNotFoundError:
            return


class NotRecorded:
    """For replaying the journal itself: what it re-applies is already in it."""

    def record(self, subject_id: UUID) -> None:
        return None

    def record_withdrawals(self, withdrawals: Sequence[Withdrawal]) -> None:
        return None
