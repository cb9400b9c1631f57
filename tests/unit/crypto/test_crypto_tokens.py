"""Prefixed bearer tokens, stored only as an HMAC under a key derived from the master keyring."""

from __future__ import annotations

import hmac
import re
import secrets
from pathlib import Path

import pytest

from optin.crypto import IssuedToken, LocalKeyFileProvider, TokenHasher, issue_token
from optin.crypto.tokens import has_prefix, validate_prefix

SECRET = secrets.token_bytes(32)
TOKEN_FORMAT = re.compile(r"optin_gate_[A-Za-z0-9_-]{43}")


@pytest.fixture
def hasher() -> TokenHasher:
    return TokenHasher(SECRET)


def test_token_format(hasher: TokenHasher) -> None:
    issued = issue_token("optin_gate", hasher)
    assert TOKEN_FORMAT.fullmatch(issued.plaintext)
    assert has_prefix(issued.plaintext, "optin_gate")
    assert not has_prefix(issued.plaintext, "optin_admin")


def test_tokens_carry_256_random_bits(hasher: TokenHasher) -> None:
    random_part = hasher.issue("t").plaintext.removeprefix("t_")
    assert len(random_part) * 6 >= 256


def test_tokens_are_unique(hasher: TokenHasher) -> None:
    issued = [hasher.issue("optin_gate") for _ in range(2000)]
    assert len({t.plaintext for t in issued}) == 2000
    assert len({t.digest for t in issued}) == 2000


def test_digest_is_hmac_sha256_hex_and_not_the_token(hasher: TokenHasher) -> None:
    issued = hasher.issue("optin_gate")
    assert re.fullmatch(r"[0-9a-f]{64}", issued.digest)
    expected = hmac.new(SECRET, issued.plaintext.encode(), "sha256").hexdigest()
    assert issued.digest == expected == hasher.digest(issued.plaintext)
    assert issued.plaintext not in repr(issued)


def test_verify_accepts_the_token(hasher: TokenHasher) -> None:
    issued = hasher.issue("optin_gate")
    assert hasher.verify(issued.plaintext, issued.digest) is True


def test_verify_rejects_other_tokens(hasher: TokenHasher) -> None:
    issued = hasher.issue("optin_gate")
    other = hasher.issue("optin_gate")
    assert hasher.verify(other.plaintext, issued.digest) is False
    assert hasher.verify(issued.plaintext[:-1], issued.digest) is False
    assert hasher.verify(issued.plaintext + "x", issued.digest) is False
    assert hasher.verify("", issued.digest) is False


def test_the_prefix_is_part_of_what_is_hashed(hasher: TokenHasher) -> None:
    issued = hasher.issue("optin_gate")
    renamed = "optin_admin_" + issued.plaintext.removeprefix("optin_gate_")
    assert hasher.verify(renamed, issued.digest) is False


def test_another_secret_does_not_verify() -> None:
    issued = TokenHasher(SECRET).issue("optin_gate")
    assert TokenHasher(secrets.token_bytes(32)).verify(issued.plaintext, issued.digest) is False


@pytest.mark.parametrize("stored", ["", "zz", "é" * 64, "A" * 64])
def test_verify_with_a_garbage_stored_digest_is_false(hasher: TokenHasher, stored: str) -> None:
    assert hasher.verify(hasher.issue("x").plaintext, stored) is False


def test_overlong_tokens_are_rejected_without_work(hasher: TokenHasher) -> None:
    token = "optin_gate_" + "a" * 1000
    assert hasher.verify(token, hasher.digest(token)) is False


def test_verify_compares_in_constant_time(
    hasher: TokenHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # the module tokens.py calls through
    issued = hasher.issue("optin_gate")
    assert hasher.verify(issued.plaintext, issued.digest)
    assert not hasher.verify("optin_gate_wrong", issued.digest)
    assert len(calls) == 2


@pytest.mark.parametrize(
    "prefix", ["", "Optin", "optin-gate", "optin_", "_gate", "optin__gate", "a" * 33, "gate!"]
)
def test_invalid_prefixes_are_refused(hasher: TokenHasher, prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid token prefix"):
        hasher.issue(prefix)
    with pytest.raises(ValueError, match="invalid token prefix"):
        validate_prefix(prefix)


@pytest.mark.parametrize("prefix", ["optin_gate", "x", "optin_v2_gate", "a" * 32])
def test_valid_prefixes(prefix: str) -> None:
    assert validate_prefix(prefix) == prefix


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenHasher(b"x" * 31)


def test_repr_hides_the_secret(hasher: TokenHasher) -> None:
    assert SECRET.hex() not in repr(hasher)
    assert repr(SECRET) not in repr(hasher)


def test_hasher_from_provider_survives_rotation(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    provider = LocalKeyFileProvider(key_file)
    issued: IssuedToken = TokenHasher.from_provider(provider).issue("optin_gate")
    provider.rotate()
    for later in (provider, LocalKeyFileProvider(key_file)):
        assert TokenHasher.from_provider(later).verify(issued.plaintext, issued.digest)
    # A different keyring (a different installation) does not accept it.
    other = LocalKeyFileProvider(tmp_path / "other.key")
    assert not TokenHasher.from_provider(other).verify(issued.plaintext, issued.digest)
