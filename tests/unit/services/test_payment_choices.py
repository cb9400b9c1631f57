"""What the portal refuses before touching anything: weak PINs, card numbers as tokens."""

from __future__ import annotations

import pytest

from optin.errors import InvalidInput
from optin.services.payment_methods import _CARD_NUMBER, TOKEN_SHAPE
from optin.services.payment_pins import check_pin_choice


@pytest.mark.parametrize(
    ("pin", "reason"),
    [
        ("", "pin-format"),
        ("123", "pin-format"),
        ("1234567", "pin-format"),
        ("12 34", "pin-format"),
        ("١٢٣٤", "pin-format"),  # Arabic-Indic digits: not 0-9
        ("0000", "pin-trivial"),
        ("999999", "pin-trivial"),
        ("1234", "pin-trivial"),
        ("3456", "pin-trivial"),
        ("654321", "pin-trivial"),
        ("1212", "pin-trivial"),
        ("2580", "pin-trivial"),
        ("4747", "pin-trivial"),
        ("123123", "pin-trivial"),
    ],
)
def test_weak_or_malformed_pins_are_refused(pin: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_pin_choice(pin)
    assert refused.value.extra["reason"] == reason
    assert not pin or pin not in str(refused.value)  # never echoed


@pytest.mark.parametrize("pin", ["2468", "80531", "139475", "7012", "1235"])
def test_ordinary_pins_are_accepted(pin: str) -> None:
    check_pin_choice(pin)


@pytest.mark.parametrize(
    "text", ["4242424242424242", "4242 4242 4242 4242", "4000-0000-0000-0002", "356600202036"]
)
def test_card_numbers_are_recognised(text: str) -> None:
    assert _CARD_NUMBER.fullmatch(text)


@pytest.mark.parametrize("token", ["tok_O8sULZK2TPq8sSZav_Or4bZw", "pm_1234abcd"])
def test_tokens_are_not_card_numbers(token: str) -> None:
    assert not _CARD_NUMBER.fullmatch(token)
    assert TOKEN_SHAPE.fullmatch(token)
