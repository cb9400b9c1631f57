"""Strict base64: one byte string, one accepted encoding (keys and signatures must not alias)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optin.crypto._b64 import b64_decode, b64_encode, b64url_decode, b64url_encode


@given(st.binary(max_size=100))
def test_round_trips(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data
    assert b64_decode(b64_encode(data)) == data
    assert "=" not in b64url_encode(data)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("AA==", id="padded"),
        pytest.param("AB", id="non-zero-trailing-bits"),
        pytest.param("A", id="impossible-length"),
        pytest.param("AA AA", id="whitespace"),
        pytest.param("AA+/", id="standard-alphabet"),
        pytest.param("AAé", id="non-ascii"),
    ],
)
def test_url_decoder_rejects_non_canonical_input(text: str) -> None:
    with pytest.raises(ValueError, match="base64url"):
        b64url_decode(text)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("AA", id="unpadded"),
        pytest.param("AB==", id="non-zero-trailing-bits"),
        pytest.param("AA-_", id="url-alphabet"),
        pytest.param("AAAA\n", id="newline"),
        pytest.param("AAé=", id="non-ascii"),
    ],
)
def test_standard_decoder_rejects_non_canonical_input(text: str) -> None:
    with pytest.raises(ValueError, match="base64"):
        b64_decode(text)
