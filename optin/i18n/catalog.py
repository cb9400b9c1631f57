"""Translations read from the ``.po`` files at run time, compiled in memory once per language.

No compile step and no ``.mo`` files in the tree: ``read_po`` parses the catalog, ``write_mo``
compiles it into a buffer and the standard ``gettext`` machinery (with the catalog's own plural
rule) answers lookups. Fuzzy entries are not used, as gettext does; the i18n tests refuse them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from optin.errors import OptinError
from optin.i18n.languages import BABEL_LOCALES, DEFAULT, SUPPORTED, normalize
from optin.i18n.messages import ERROR_MESSAGES, REASON_MESSAGES

DOMAIN: Final = "optin"
LOCALES_DIR: Final = Path(__file__).parent / "locales"


def po_path(lang: str, root: Path = LOCALES_DIR) -> Path:
    return root / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str, root: Path = LOCALES_DIR) -> Catalog:
    """The parsed ``.po`` file of one language (for tests and the sync tool)."""
    with po_path(lang, root).open("rb") as handle:
        return read_po(handle, locale=BABEL_LOCALES[lang], domain=DOMAIN)


@dataclass(frozen=True)
class Translator:
    """Lookups in one language. Results are always %-formatted with ``params``, as Jinja's
    newstyle gettext does, so a string behaves the same in Python and in templates."""

    lang: str
    translations: Translations

    @property
    def locale(self) -> Locale:
        return Locale.parse(BABEL_LOCALES[self.lang])

    def gettext(self, msgid: str, **params: Any) -> str:
        return self.translations.gettext(msgid) % params

    def ngettext(self, singular: str, plural: str, num: int, **params: Any) -> str:
        params.setdefault("num", num)
        return self.translations.ngettext(singular, plural, num) % params

    def as_dict(self, msgids: Iterable[str]) -> dict[str, str]:
        """Unformatted translations of some msgids, e.g. to hand the camera page's hints to JS."""
        return {msgid: self.translations.gettext(msgid) for msgid in msgids}

    def format_date(self, value: date, format: str = "long") -> str:  # noqa: A002 (Babel's name)
        return format_date(value, format, locale=self.locale)

    def format_datetime(self, value: datetime, format: str = "medium") -> str:  # noqa: A002
        return format_datetime(value, format, locale=self.locale)


def translator(lang: str) -> Translator:
    """The translator for a language code (ours or a tag such as ``ja-JP``); unknown → default."""
    return _translator(normalize(lang) or DEFAULT)


@cache
def _translator(lang: str) -> Translator:
    catalog = read_catalog(lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translator(lang, Translations(buffer, domain=DOMAIN))


def error_message(code: str, lang: str, *, reason: str | None = None, **params: Any) -> str:
    """The human message for an error code (``OptinError.code``) or, when known, its reason.

    An unknown code gets the generic message rather than an exception: this runs while an
    error is being reported.
    """
    if reason is not None and reason in REASON_MESSAGES:
        msgid = REASON_MESSAGES[reason]
    elif code in ERROR_MESSAGES:
        msgid = ERROR_MESSAGES[code]
    elif code in REASON_MESSAGES:
        msgid = REASON_MESSAGES[code]
    else:
        msgid = ERROR_MESSAGES["error"]
    return translator(lang).gettext(msgid, **params)


def describe_error(error: OptinError, lang: str) -> str:
    """``error_message`` for a raised error, using the ``reason`` it carries if any."""
    reason = error.extra.get("reason")
    return error_message(error.code, lang, reason=reason if isinstance(reason, str) else None)


def install_jinja(env: Environment, lang: str | None = None) -> None:
    """Install ``_``/``gettext``/``ngettext`` in a Jinja environment (jinja2.ext.i18n, newstyle).

    With ``lang``, every template renders in that language. Without it, the language is read
    from the render context's ``lang`` variable (``template.render(lang="ja", ...)``), so one
    environment serves all languages; a macro imported from another file sees it only when
    imported ``with context``. Newstyle means ``{{ _("Hello %(name)s", name=user) }}`` formats
    (and, with autoescape, escapes) its parameters; a literal ``%`` is ``%%``.
    """
    env.add_extension("jinja2.ext.i18n")
    gettext: Callable[..., str]
    ngettext: Callable[..., str]
    if lang is not None:
        fixed = translator(lang).translations
        gettext, ngettext = fixed.gettext, fixed.ngettext
    else:

        @pass_context
        def gettext(context: Context, message: str) -> str:
            return _of(context).gettext(message)

        @pass_context
        def ngettext(context: Context, singular: str, plural: str, num: int) -> str:
            return _of(context).ngettext(singular, plural, num)

    # install_gettext_callables is added to the environment by the i18n extension.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=gettext, ngettext=ngettext, newstyle=True
    )


def _of(context: Context) -> Translations:
    lang = context.get("lang")
    return translator(lang if isinstance(lang, str) else DEFAULT).translations


__all__ = [
    "DOMAIN",
    "LOCALES_DIR",
    "SUPPORTED",
    "Translator",
    "describe_error",
    "error_message",
    "install_jinja",
    "po_path",
    "read_catalog",
    "translator",
]
