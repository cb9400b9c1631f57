"""argon2id password hashing, and the async variants that keep the event loop free."""

from __future__ import annotations

import threading

import pytest
from argon2 import PasswordHasher, Type

from optin.crypto import passwords
from optin.crypto.passwords import (
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)

PASSWORD = "correct horse battery staple ✓"


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password(PASSWORD)


def test_hash_is_argon2id_with_the_chosen_parameters(stored: str) -> None:
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored


def test_hashes_are_salted() -> None:
    assert hash_password(PASSWORD) != hash_password(PASSWORD)


def test_verify_accepts_the_password(stored: str) -> None:
    assert verify_password(PASSWORD, stored) is True


@pytest.mark.parametrize("attempt", ["", "correct horse battery staple", PASSWORD.upper()])
def test_verify_rejects_other_passwords(stored: str, attempt: str) -> None:
    assert verify_password(attempt, stored) is False


@pytest.mark.parametrize(
    "bad_hash", ["", "plain text", "$argon2id$v=19$m=65536,t=3,p=4$broken", "$2b$12$abcdefghij"]
)
def test_verify_treats_a_malformed_hash_as_a_mismatch(bad_hash: str) -> None:
    assert verify_password(PASSWORD, bad_hash) is False


def test_fresh_hash_needs_no_rehash(stored: str) -> None:
    assert needs_rehash(stored) is False


def test_hash_with_weaker_parameters_needs_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID).hash(PASSWORD)
    assert verify_password(PASSWORD, weak) is True  # still lets the user in...
    assert needs_rehash(weak) is True  # ...and asks for an upgrade


def test_unreadable_hash_needs_rehash() -> None:
    assert needs_rehash("not a hash") is True


async def test_async_variants_round_trip() -> None:
    stored = await hash_password_async(PASSWORD)
    assert await verify_password_async(PASSWORD, stored) is True
    assert await verify_password_async("wrong", stored) is False


async def test_async_variants_run_off_the_event_loop_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []
    real_hash, real_verify = passwords.hash_password, passwords.verify_password

    def spy_hash(password: str) -> str:
        seen.append(threading.get_ident())
        return real_hash(password)

    def spy_verify(password: str, stored_hash: str) -> bool:
        seen.append(threading.get_ident())
        return real_verify(password, stored_hash)

    monkeypatch.setattr(passwords, "hash_password", spy_hash)
    monkeypatch.setattr(passwords, "verify_password", spy_verify)

    stored = await hash_password_async(PASSWORD)
    assert await verify_password_async(PASSWORD, stored)
    assert len(seen) == 2
    assert loop_thread not in seen
