"""TOTP against the RFC 6238 test vectors, and its replay guard."""

from __future__ import annotations

import base64

from optin.crypto import totp


def test_totp_matches_rfc_6238_vectors() -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    # RFC 6238 appendix B (SHA-1), last six digits of the eight-digit values.
    assert totp.code_at(secret, 59 // 30) == "287082"
    assert totp.code_at(secret, 1111111109 // 30) == "081804"
    assert totp.code_at(secret, 2000000000 // 30) == "279037"
    assert totp.verify(secret, "287082", 59) == 1
    assert totp.verify(secret, "287082", 59, last_step=1) is None
    assert totp.verify(secret, "287082", 59 + 120) is None
