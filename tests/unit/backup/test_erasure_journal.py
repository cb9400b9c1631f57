"""The erasure journal: durable appends from several writers, read back whole."""

from __future__ import annotations

import json
import stat
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

from optin.backup.journal import ErasureJournal, NotRecorded


def test_an_absent_journal_is_empty(tmp_path: Path) -> None:
    contents = ErasureJournal(tmp_path / "erasure-journal.jsonl").read()
    assert (contents.erasures, contents.unreadable_lines) == ([], 0)


def test_records_are_read_back_in_order_and_the_file_is_private(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path / "data" / "erasure-journal.jsonl")
    first, second = uuid.uuid4(), uuid.uuid4()
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    journal.record(first, when)
    journal.record(second)
    journal.record(first)  # erased twice (a replay elsewhere): listed once by subject_ids()
    contents = journal.read()
    assert [e.subject_id for e in contents.erasures] == [first, second, first]
    assert contents.erasures[0].erased_at == when
    assert contents.subject_ids() == [first, second]
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(journal.path.parent.stat().st_mode) == 0o700
    # Ids and times only: nothing else about the person.
    line = json.loads(journal.path.read_text().splitlines()[0])
    assert set(line) == {"subject_id", "erased_at"}


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path / "erasure-journal.jsonl")
    ids = [[uuid.uuid4() for _ in range(25)] for _ in range(8)]

    def write(batch: list[uuid.UUID]) -> None:
        for subject_id in batch:
            ErasureJournal(journal.path).record(subject_id)

    threads = [threading.Thread(target=write, args=(batch,)) for batch in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    contents = journal.read()
    assert contents.unreadable_lines == 0
    assert sorted(contents.subject_ids()) == sorted(i for batch in ids for i in batch)


def test_a_torn_line_is_counted_not_fatal(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path / "erasure-journal.jsonl")
    kept = uuid.uuid4()
    journal.record(kept)
    with journal.path.open("a") as handle:
        handle.write('{"subject_id": "0190')  # a crash in the middle of a write
    contents = journal.read()
    assert contents.subject_ids() == [kept]
    assert contents.unreadable_lines == 1


def test_not_recorded_writes_nothing(tmp_path: Path) -> None:
    NotRecorded().record(uuid.uuid4())
    assert list(tmp_path.iterdir()) == []
