"""Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30 s steps, 6 digits).

The parameters every authenticator app understands. ``verify`` accepts the current step and one
either side (clock drift) and returns the step it matched, so the caller can refuse a replay of
the same code.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from typing import Final
from urllib.parse import quote, urlencode

STEP_SECONDS: Final = 30
DIGITS: Final = 6
DRIFT_STEPS: Final = 1


def new_secret() -> str:
    """A 160-bit secret, base32 without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def code_at(secret: str, step: int) -> str:
    digest = hmac.digest(_key(secret), struct.pack(">Q", step), "sha1")
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFF_FFFF
    return str(value % 10**DIGITS).zfill(DIGITS)


def step_of(unix_time: float) -> int:
    return int(unix_time // STEP_SECONDS)


def verify(secret: str, code: str, unix_time: float, last_step: int | None = None) -> int | None:
    """The step ``code`` belongs to, if valid now and newer than ``last_step``; else None."""
    presented = code.strip().replace(" ", "")
    if len(presented) != DIGITS or not presented.isdigit():
        return None
    now = step_of(unix_time)
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_at(secret, step), presented):
            return step
    return None


def provisioning_uri(secret: str, account: str, issuer: str = "optin") -> str:
    """The otpauth:// URI an authenticator app scans (shown once, at account creation)."""
    label = quote(f"{issuer}:{account}")
    query = urlencode(
        {"secret": secret, "issuer": issuer, "digits": DIGITS, "period": STEP_SECONDS}
    )
    return f"otpauth://totp/{label}?{query}"
