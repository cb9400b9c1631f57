"""python -m optin.i18n sync: adds new strings untranslated, keeps translations, drops old ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from optin.i18n import sync as sync_module
from optin.i18n.catalog import LOCALES_DIR, read_catalog
from optin.i18n.messages import ALL, Message


def test_sync_of_the_real_catalogs_changes_no_message(tmp_path: Path) -> None:
    root = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, root)
    reports = sync_module.sync(root=root)
    assert all(not r.added and not r.removed for r in reports)
    for lang in ("ja", "en", "zh", "ko"):
        # The header's revision date moves; the messages must not.
        before = {m.id: (m.string, m.flags) for m in read_catalog(lang) if m.id}
        after = {m.id: (m.string, m.flags) for m in read_catalog(lang, root) if m.id}
        assert before == after


def test_sync_adds_and_removes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, root)
    new = Message("A brand new string", note="for the test")
    dropped = ALL[0].msgid
    monkeypatch.setattr(sync_module, "ALL", [*ALL[1:], new])

    reports = {r.lang: r for r in sync_module.sync(root=root)}

    assert reports["ja"].added == ["A brand new string"]
    assert reports["ja"].removed == [dropped]
    ja = read_catalog("ja", root)
    assert ja.get("A brand new string").string == ""  # the i18n test fails until translated
    assert ja.get(dropped) is None
    assert ja.get(ALL[1].msgid).string == read_catalog("ja").get(ALL[1].msgid).string
    # English starts from the msgid.
    assert read_catalog("en", root).get("A brand new string").string == "A brand new string"
