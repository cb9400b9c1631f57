"""negotiate: an explicit choice wins, then Accept-Language (q-values, regions, scripts)."""

from __future__ import annotations

import pytest

from optin.i18n import DEFAULT, SUPPORTED, negotiate, normalize


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("ja", "ja"),
        ("ja-JP", "ja"),
        ("ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7", "ja"),
        ("ko-KR,ko;q=0.9", "ko"),
        ("zh-CN,zh;q=0.9", "zh"),
        ("zh-Hans-CN", "zh"),
        ("zh-TW,zh;q=0.9,en;q=0.8", "zh"),  # Simplified is the closest we have
        ("zh-Hant-HK", "zh"),
        ("ZH_hans", "zh"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR,fr;q=0.9", "en"),  # nothing we support: the default
        ("fr-FR,fr;q=0.9,ko;q=0.5", "ko"),  # the best one we support, not the first listed
        ("en;q=0.5, ja;q=0.8", "ja"),  # q-values, not order
        ("ko, ja", "ko"),  # equal q: header order
        ("ja;q=0.8, ko;q=0.8, en;q=0.1", "ja"),
        ("ja;q=0, ko;q=0.1", "ko"),  # q=0: not acceptable
        ("zh-TW;q=0, zh-CN;q=0.5", "zh"),  # refusing one variant does not refuse zh-CN
        ("de, *;q=0.5", "en"),  # any language: the default
        ("en;q=0, *", "ja"),  # any but English
        ("ja;q=abc, ko", "ko"),  # malformed entry ignored
        ("ja;q=2, ko;q=0.5", "ko"),  # q above 1 is malformed
        (" ja-JP ; q=0.9 , en ; q=0.8 ", "ja"),  # whitespace
        (";;,,;q=1", "en"),
        ("x" * 5000, "en"),
        ("fr," * 1000 + "ja", "en"),  # entries past the cap are not read
    ],
)
def test_accept_language(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


@pytest.mark.parametrize(
    ("requested", "header", "expected"),
    [
        ("ko", "ja-JP,ja;q=0.9", "ko"),  # an explicit choice wins over the header
        ("zh-CN", "ja", "zh"),
        ("JA", None, "ja"),
        ("fr", "ko-KR", "ko"),  # unsupported choice: fall back to the header
        ("", "ko-KR", "ko"),
        (None, None, "en"),
    ],
)
def test_explicit_choice(requested: str | None, header: str | None, expected: str) -> None:
    assert negotiate(header, requested) == expected


def test_supported_and_default() -> None:
    assert SUPPORTED == ("ja", "en", "zh", "ko")
    assert DEFAULT == "en"
    assert [normalize(code) for code in SUPPORTED] == list(SUPPORTED)
    assert normalize("pt-BR") is None
    assert normalize(None) is None
