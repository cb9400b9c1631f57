"""Withdrawals in the erasure journal: their own lines, read apart from erasures."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from optin.backup.journal import ErasureJournal, Withdrawal
from optin.backup.operations import _merged_journal
from optin.config import Settings


def test_withdrawals_are_read_back_apart_from_erasures(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path / "erasure-journal.jsonl")
    erased, subject = uuid.uuid4(), uuid.uuid4()
    entry, payment = uuid.uuid4(), uuid.uuid4()
    # Stored in UTC whatever the caller's zone; read back as the same moment.
    when = datetime(2026, 5, 6, 16, 0, tzinfo=timezone(timedelta(hours=9)))
    journal.record(erased)
    venue = uuid.uuid4()
    journal.record_withdrawals(
        [
            Withdrawal(entry, subject, when, purpose="entry", venue_id=venue),
            Withdrawal(payment, subject, when, purpose="payment", venue_id=venue),
        ]
    )
    contents = journal.read()
    assert [e.subject_id for e in contents.erasures] == [erased]
    assert contents.withdrawals == [
        Withdrawal(entry, subject, when, purpose="entry", venue_id=venue),
        Withdrawal(payment, subject, when, purpose="payment", venue_id=venue),
    ]
    assert contents.unreadable_lines == 0
    # Ids, a purpose and a time only, the time in UTC.
    line = json.loads(journal.path.read_text().splitlines()[1])
    assert line == {
        "withdrawn_consent_id": str(entry),
        "subject_id": str(subject),
        "withdrawn_at": "2026-05-06T07:00:00+00:00",
        "purpose": "entry",
        "venue_id": str(venue),
    }


def test_a_torn_withdrawal_line_is_counted_not_fatal(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path / "erasure-journal.jsonl")
    journal.record_withdrawals([Withdrawal(uuid.uuid4(), uuid.uuid4(), datetime.now(UTC))])
    with journal.path.open("a") as handle:
        handle.write('{"withdrawn_consent_id": "' + str(uuid.uuid4()) + '", "subj')
    contents = journal.read()
    assert (len(contents.withdrawals), contents.unreadable_lines) == (1, 1)


def test_a_provision_withdrawal_has_its_own_key(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path / "erasure-journal.jsonl")
    subject, agreement = uuid.uuid4(), uuid.uuid4()
    when = datetime(2026, 5, 6, 7, 0, tzinfo=UTC)
    journal.record_withdrawals([Withdrawal(agreement, subject, when, provision=True)])
    assert journal.read().withdrawals == [Withdrawal(agreement, subject, when, provision=True)]
    assert "withdrawn_provision_consent_id" in json.loads(journal.path.read_text())


def test_a_copy_given_to_restore_adds_its_withdrawals_to_the_local_journal(tmp_path: Path) -> None:
    settings = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / "data")})
    local = ErasureJournal(settings.erasure_journal_file)
    copy = ErasureJournal(tmp_path / "copy.jsonl")
    subject, known, only_in_copy = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    when = datetime(2026, 5, 6, 7, 0, tzinfo=UTC)
    local.record_withdrawals([Withdrawal(known, subject, when)])
    copy.record_withdrawals([Withdrawal(c, subject, when) for c in (known, only_in_copy)])
    for _ in range(2):  # a second merge adds nothing
        merged = _merged_journal(settings, [copy])
        assert set(merged.withdrawn) == {known, only_in_copy}
    assert [w.consent_id for w in local.read().withdrawals] == [known, only_in_copy]
