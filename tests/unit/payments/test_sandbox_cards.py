"""The sandbox's card checks: Luhn, expiry, security code and brand."""

from __future__ import annotations

from datetime import date

import pytest

from optin.payments.sandbox_server import (
    CARD_DECLINED,
    CARD_INSUFFICIENT_FUNDS,
    CARD_OK,
    CardInvalid,
    card_brand,
    check_cvc,
    check_expiry,
    luhn_valid,
    normalise_number,
)

TODAY = date(2026, 5, 15)


@pytest.mark.parametrize(
    "number",
    [
        CARD_OK,
        CARD_DECLINED,
        CARD_INSUFFICIENT_FUNDS,
        "5555555555554444",
        "378282246310005",
        "3566002020360505",
        "79927398713",
        "0",
    ],
)
def test_luhn_accepts_valid_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4242424242424241", "79927398710", "1", "", "4242x"])
def test_luhn_refuses_invalid_numbers(number: str) -> None:
    assert not luhn_valid(number)


def test_every_single_digit_typo_is_caught() -> None:
    for position in range(len(CARD_OK)):
        for digit in "0123456789":
            typo = CARD_OK[:position] + digit + CARD_OK[position + 1 :]
            assert luhn_valid(typo) == (typo == CARD_OK)


def test_numbers_as_typed() -> None:
    assert normalise_number("4242 4242-4242 4242") == CARD_OK
    for raw, words in [
        (None, "missing"),
        ("  ", "missing"),
        (4242424242424242, "missing"),
        ("4242 4242 4242 424a", "only digits"),
        ("42424242", "between 12 and 19"),
        ("4" * 20, "between 12 and 19"),
        ("4242424242424241", "typing mistake"),
    ]:
        with pytest.raises(CardInvalid) as caught:
            normalise_number(raw)
        assert caught.value.code == "invalid_number"
        assert words in caught.value.message
        assert caught.value.status == 400


@pytest.mark.parametrize(
    ("month", "year", "expected"),
    [
        (5, 2026, (5, 2026)),  # valid through the end of its month
        (12, 2026, (12, 2026)),
        ("06", "26", (6, 2026)),  # as typed into a form
        (1, 2046, (1, 2046)),
        (1, 27, (1, 2027)),
    ],
)
def test_expiry_accepted(month: object, year: object, expected: tuple[int, int]) -> None:
    assert check_expiry(month, year, TODAY) == expected


@pytest.mark.parametrize(
    ("month", "year", "code"),
    [
        (4, 2026, "expired_card"),
        (12, 2025, "expired_card"),
        (4, 26, "expired_card"),
        (0, 2027, "invalid_exp_month"),
        (13, 2027, "invalid_exp_month"),
        (1, 2047, "invalid_exp_year"),
        (True, 2027, "invalid_exp_month"),
        (1.5, 2027, "invalid_exp_month"),
        (1, "20x7", "invalid_exp_year"),
        (1, None, "invalid_exp_year"),
    ],
)
def test_expiry_refused(month: object, year: object, code: str) -> None:
    with pytest.raises(CardInvalid) as caught:
        check_expiry(month, year, TODAY)
    assert caught.value.code == code


def test_security_code() -> None:
    check_cvc("123")
    check_cvc("1234")
    for bad in ["12", "12345", "12a", 123, None]:
        with pytest.raises(CardInvalid):
            check_cvc(bad)


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        (CARD_OK, "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("3566002020360505", "jcb"),
        ("6011111111111117", "discover"),
        ("36227206271667", "diners"),
        ("6200000000000005", "unionpay"),
        ("9999999999999995", "unknown"),
    ],
)
def test_brand(number: str, brand: str) -> None:
    assert card_brand(number) == brand
