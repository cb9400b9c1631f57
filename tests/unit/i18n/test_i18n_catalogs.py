"""A missing translation blocks release: every string, every language, same placeholders."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from jinja2 import Environment

from optin.i18n import SUPPORTED, install_jinja, translator
from optin.i18n.catalog import read_catalog
from optin.i18n.messages import ALL, Message, msgids

REPO = Path(__file__).resolve().parents[3]
TEMPLATE_ROOTS = ("optin", "enrollment_app", "gate_agent")
TEMPLATE_SUFFIXES = {".html", ".jinja", ".jinja2", ".j2", ".txt", ".xml", ".svg", ".eml"}

# %(name)s-style and {name}-style placeholders, with their conversion: %(num)d must stay %(num)d.
_PERCENT = re.compile(r"%\((\w+)\)([#0\- +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa])")
_BRACES = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")


def placeholders(text: str) -> list[str]:
    found = [f"%({name}){conv}" for name, conv in _PERCENT.findall(text)]
    found += [f"{{{name}}}" for name in _BRACES.findall(text)]
    return sorted(found)


def _forms(message: Message, catalog: Catalog) -> list[str]:
    entry = catalog.get(message.msgid)
    assert entry is not None, f"{catalog.locale}: missing: {message.msgid!r}"
    string = entry.string
    return list(string) if isinstance(string, tuple) else [string]


@pytest.fixture(scope="module", params=SUPPORTED)
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def catalog(lang: str) -> Catalog:
    return read_catalog(lang)


def test_msgids_are_unique() -> None:
    ids = [m.msgid for m in ALL]
    assert len(ids) == len(set(ids))
    assert ids == msgids()


def test_every_string_is_translated(lang: str, catalog: Catalog) -> None:
    problems = []
    for message in ALL:
        entry = catalog.get(message.msgid)
        if entry is None:
            problems.append(f"missing: {message.msgid!r}")
            continue
        if entry.fuzzy:
            problems.append(f"fuzzy (not used at run time): {message.msgid!r}")
        if (message.plural is None) != (not entry.pluralizable):
            problems.append(f"plural mismatch: {message.msgid!r}")
            continue
        forms = _forms(message, catalog)
        if message.plural is not None and len(forms) != catalog.num_plurals:
            problems.append(
                f"{len(forms)} plural forms, need {catalog.num_plurals}: {message.msgid!r}"
            )
        if any(not form.strip() for form in forms):
            problems.append(f"untranslated: {message.msgid!r}")
    assert not problems, f"{lang}: " + "\n".join(problems)


def test_catalog_holds_only_listed_strings(lang: str, catalog: Catalog) -> None:
    listed = set(msgids())
    extra = [
        m.id for m in catalog if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in listed
    ]
    assert not extra, (
        f"{lang}: not in optin/i18n/messages.py (run `python -m optin.i18n sync`): {extra}"
    )
    assert not list(catalog.obsolete), f"{lang}: obsolete (#~) entries left"


def test_placeholders_match_the_msgid(lang: str, catalog: Catalog) -> None:
    problems = []
    for message in ALL:
        expected = placeholders(message.msgid)
        if message.plural is not None:
            assert placeholders(message.plural) == expected, message.msgid
        for form in _forms(message, catalog):
            if placeholders(form) != expected:
                problems.append(f"{message.msgid!r}: {placeholders(form)} != {expected}")
    assert not problems, f"{lang}: " + "\n".join(problems)


def test_every_string_formats(lang: str) -> None:
    """A stray % (not %% and not a placeholder) would raise when the string is rendered."""
    t = translator(lang)
    for message in ALL:
        params = {re.sub(r"\W", "", p.split(")")[0]): 1 for p in placeholders(message.msgid)}
        params.pop("num", None)
        if message.plural is None:
            assert t.gettext(message.msgid, **params)
        else:
            for n in (0, 1, 2, 5):
                assert str(n) in t.ngettext(message.msgid, message.plural, n, **params)


_SCRIPT = {
    "ja": ("HIRAGANA", "KATAKANA", "CJK UNIFIED"),
    "zh": ("CJK UNIFIED",),
    "ko": ("HANGUL",),
}


@pytest.mark.parametrize("lang", ["ja", "zh", "ko"])
def test_translations_are_written_in_their_script(lang: str) -> None:
    """Catches English pasted into a catalog (or Japanese into the Chinese one)."""
    catalog = read_catalog(lang)
    for message in ALL:
        for form in _forms(message, catalog):
            names = {unicodedata.name(c, "") for c in form}
            assert any(n.startswith(_SCRIPT[lang]) for n in names), f"{lang}: {form!r}"
            if lang == "zh":  # Simplified Chinese has no kana; Japanese copy would
                assert not any(n.startswith(("HIRAGANA", "KATAKANA")) for n in names), form


def test_templates_use_only_listed_strings() -> None:
    """Strings in the project's Jinja templates must be in the catalog, hence translated."""
    env = Environment(autoescape=True)
    install_jinja(env)
    listed = set(msgids())
    unknown = []
    for root in TEMPLATE_ROOTS:
        for path in sorted((REPO / root).rglob("*")):
            if "templates" not in path.parts or path.suffix not in TEMPLATE_SUFFIXES:
                continue
            source = path.read_text(encoding="utf-8")
            for _, _, message in env.extract_translations(source):  # type: ignore[attr-defined]
                first = message if isinstance(message, str) else message[0]
                if first is not None and first not in listed:
                    unknown.append(f"{path.relative_to(REPO)}: {first!r}")
    assert not unknown, "add these to optin/i18n/messages.py and translate them:\n" + "\n".join(
        unknown
    )


def test_placeholder_checker_itself() -> None:
    assert placeholders("%(num)d days, {name}, 100%% sure, {{literal}}") == [
        "%(num)d",
        "{name}",
    ]
    assert placeholders("%(num)s") != placeholders("%(num)d")
