"""Bring the ``.po`` files in line with ``messages.ALL``: ``python -m optin.i18n sync``.

New strings are added with an empty translation (English gets its msgid), so the i18n test
fails until someone translates them; strings no longer listed are dropped; existing
translations, fuzzy flags included, are kept as they are. Lines are not wrapped, so each string
is one line to edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po

from optin.i18n.catalog import DOMAIN, LOCALES_DIR, po_path, read_catalog
from optin.i18n.languages import BABEL_LOCALES, DEFAULT, LANGUAGE_NAMES, SUPPORTED
from optin.i18n.messages import ALL

MessageId = str | tuple[str, str]


@dataclass
class SyncReport:
    lang: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def new_catalog(lang: str, *, creation_date: datetime | None = None) -> Catalog:
    now = datetime.now(UTC).replace(microsecond=0)
    return Catalog(
        locale=BABEL_LOCALES[lang],
        domain=DOMAIN,
        header_comment=(
            f"# optin: user-facing strings in {LANGUAGE_NAMES[lang]} ({lang}).\n"
            "# Edit the msgstr lines only; how to add a string: optin/i18n/README.md.\n#"
        ),
        project="optin",
        version="1",
        msgid_bugs_address="optin maintainers",
        last_translator="optin maintainers",
        language_team=f"{LANGUAGE_NAMES[lang]} ({lang})",
        creation_date=creation_date or now,
        revision_date=now,
        charset="utf-8",
        fuzzy=False,
    )


def write_catalog(lang: str, catalog: Catalog, root: Path = LOCALES_DIR) -> Path:
    target = po_path(lang, root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        write_po(handle, catalog, width=0, ignore_obsolete=True, include_lineno=False)
    return target


def sync(langs: tuple[str, ...] = SUPPORTED, root: Path = LOCALES_DIR) -> list[SyncReport]:
    reports = []
    for lang in langs:
        existing = read_catalog(lang, root) if po_path(lang, root).exists() else None
        created = existing.creation_date if existing else None
        fresh = new_catalog(lang, creation_date=created if isinstance(created, datetime) else None)
        report = SyncReport(lang)
        listed = set()
        for message in ALL:
            key: MessageId = message.msgid
            if message.plural is not None:
                key = (message.msgid, message.plural)
            listed.add(message.msgid)
            old = existing.get(message.msgid) if existing else None
            same_kind = old is not None and isinstance(old.id, tuple) == isinstance(key, tuple)
            if old is not None and same_kind:
                fresh.add(key, old.string, auto_comments=_notes(message.note), flags=old.flags)
                continue
            fresh.add(key, _untranslated(lang, key, fresh), auto_comments=_notes(message.note))
            report.added.append(message.msgid)
        if existing is not None:
            report.removed = [
                m.id if isinstance(m.id, str) else m.id[0]
                for m in existing
                if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in listed
            ]
        write_catalog(lang, fresh, root)
        reports.append(report)
    return reports


def _untranslated(lang: str, key: MessageId, catalog: Catalog) -> str | tuple[str, ...]:
    if lang == DEFAULT:  # msgids are English: the English catalog starts from them
        return key
    if isinstance(key, tuple):
        return ("",) * catalog.num_plurals
    return ""


def _notes(note: str) -> list[str]:
    return [note] if note else []


__all__ = ["SyncReport", "new_catalog", "sync", "write_catalog"]
