"""Languages of the user-facing pages and mails: ja, en, zh (Simplified) and ko.

- languages: ``SUPPORTED``, ``DEFAULT``, ``negotiate`` (explicit choice, then Accept-Language).
- messages:  the one list of translatable strings (msgids in English), incl. error messages.
- catalog:   ``translator(lang)`` over the ``.po`` files (no compile step), ``error_message``,
             ``install_jinja``.
- sync:      ``python -m optin.i18n sync`` adds new strings to the ``.po`` files.

A missing translation blocks release: tests/unit/i18n fails on any empty or fuzzy msgstr.
"""

from __future__ import annotations

from optin.i18n import messages
from optin.i18n.catalog import (
    Translator,
    describe_error,
    error_message,
    install_jinja,
    translator,
)
from optin.i18n.languages import (
    DEFAULT,
    HTML_LANG,
    LANGUAGE_NAMES,
    SUPPORTED,
    negotiate,
    normalize,
)

__all__ = [
    "DEFAULT",
    "HTML_LANG",
    "LANGUAGE_NAMES",
    "SUPPORTED",
    "Translator",
    "describe_error",
    "error_message",
    "install_jinja",
    "messages",
    "negotiate",
    "normalize",
    "translator",
]
