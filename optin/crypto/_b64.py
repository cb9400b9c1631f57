"""Strict base64 helpers: decoding rejects anything that is not the canonical encoding.

``base64.urlsafe_b64decode`` silently skips foreign characters and accepts non-zero padding bits,
so two different strings could decode to the same key or signature; these helpers do not.
"""

from __future__ import annotations

import base64
import binascii
import re

_URLSAFE = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, as JOSE/JWK uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url; ``ValueError`` unless ``text`` is exactly the canonical form."""
    if not _URLSAFE.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(data) != text:
        raise ValueError("not canonical base64url")
    return data


def b64_encode(data: bytes) -> str:
    """Standard, padded base64."""
    return base64.b64encode(data).decode("ascii")


def b64_decode(text: str) -> bytes:
    """Decode standard padded base64; ``ValueError`` on any foreign character or bad padding."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("not valid base64") from exc
    if b64_encode(data) != text:
        raise ValueError("not canonical base64")
    return data
