"""The four languages and how a request picks one.

"zh" is Simplified Chinese (``zh_Hans``): it is what we translate into, and the best we can offer
a reader of Traditional Chinese too (``zh-TW``, ``zh-Hant``). Codes are our own short ones; Babel
locales (dates, plural rules) come from ``BABEL_LOCALES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

SUPPORTED: Final = ("ja", "en", "zh", "ko")
DEFAULT: Final = "en"

#: Each language named in itself, for the language picker (never translated).
LANGUAGE_NAMES: Final[Mapping[str, str]] = {
    "ja": "日本語",
    "en": "English",
    "zh": "简体中文",
    "ko": "한국어",
}

#: BCP 47 tags for ``<html lang>`` and Content-Language.
HTML_LANG: Final[Mapping[str, str]] = {"ja": "ja", "en": "en", "zh": "zh-Hans", "ko": "ko"}

BABEL_LOCALES: Final[Mapping[str, str]] = {
    "ja": "ja_JP",
    "en": "en",
    "zh": "zh_Hans_CN",
    "ko": "ko_KR",
}

# A header is a handful of entries in practice; the caps keep a hostile one cheap.
_MAX_HEADER = 1024
_MAX_ENTRIES = 32


def normalize(tag: str | None) -> str | None:
    """Our code for a language tag (``ja-JP`` → ja, ``zh_Hant_TW`` → zh), None if unsupported."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in SUPPORTED else None


def negotiate(accept_language: str | None, requested: str | None = None) -> str:
    """The language to answer in.

    An explicit, supported choice (a query parameter, cookie or path segment) wins. Otherwise the
    Accept-Language entry with the highest q-value that we support (ties keep header order;
    ``*`` means any: the default unless ``q=0`` refuses it), else the default. A refusal such as
    ``zh-TW;q=0`` only constrains ``*``: it must not block ``zh-CN`` listed beside it.
    """
    chosen = normalize(requested)
    if chosen:
        return chosen
    if not accept_language:
        return DEFAULT
    ranked: list[tuple[float, int, str]] = []
    refused: set[str] = set()
    for position, entry in enumerate(accept_language[:_MAX_HEADER].split(",")[:_MAX_ENTRIES]):
        tag, _, params = entry.partition(";")
        tag = tag.strip()
        quality = _quality(params)
        if not tag or quality is None:
            continue
        language = "*" if tag == "*" else normalize(tag)
        if language is None:
            continue
        if quality == 0:
            refused.add(language)
            continue
        ranked.append((-quality, position, language))
    for _, _, language in sorted(ranked):
        if language == "*":
            fallback = [code for code in (DEFAULT, *SUPPORTED) if code not in refused]
            if fallback:
                return fallback[0]
            continue
        return language
    return DEFAULT


def _quality(params: str) -> float | None:
    """The q-value of one entry: 1 when absent, None when malformed (the entry is ignored)."""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() != "q":
            continue
        try:
            quality = float(value.strip())
        except ValueError:
            return None
        return quality if 0.0 <= quality <= 1.0 else None
    return 1.0


__all__ = [
    "BABEL_LOCALES",
    "DEFAULT",
    "HTML_LANG",
    "LANGUAGE_NAMES",
    "SUPPORTED",
    "negotiate",
    "normalize",
]
