"""The log redaction filter: the safety net under "never log secrets or personal data"."""

from __future__ import annotations

import pytest

from optin.logs import redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("gate optin_gate_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG connected", "optin_gate_"),
        ("GET /v1/tokens/tok_Q2xhc3NpYzEyMzQ1Njc4 200", "tok_Q2xh"),
        ("card 4242 4242 4242 4242 refused", "4242 4242"),
        ("card 4000000000000002 refused", "4000000000000002"),
        ("mail to hanako@example.jp failed", "hanako@example.jp"),
        ("code ABCDE-FGHIJ-KLMNO-PQRST wrong", "ABCDE-FGHIJ"),
        ("vector 0.1, -0.2, 0.3, 0.04, 0.5, 0.6", "0.3, 0.04"),
    ],
)
def test_secrets_and_personal_data_are_replaced(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_ordinary_words_and_small_numbers_stay() -> None:
    line = "GET /api/v1/portal/me 200 in 12 ms (worker 2)"
    assert redact(line) == line
