"""Operator passwords hashed with argon2id, with explicit parameters.

Parameters follow RFC 9106's second recommended option (t=3, m=64 MiB, p=4): a hash costs
tens of milliseconds of CPU and 64 MiB of memory, which is why the async variants run it in a
worker thread rather than on the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Final

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

TIME_COST: Final = 3
MEMORY_COST_KIB: Final = 64 * 1024
PARALLELISM: Final = 4
HASH_BYTES: Final = 32
SALT_BYTES: Final = 16

_hasher = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_BYTES,
    salt_len=SALT_BYTES,
    type=Type.ID,
)


def hash_password(password: str) -> str:
    """An encoded ``$argon2id$...`` string, with its own random salt and parameters."""
    return _hasher.hash(password)


def verify_password(password: str, stored_hash: str) -> bool:
    """True only if ``password`` matches; a malformed or foreign hash is simply a mismatch."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        # VerifyMismatchError is a VerificationError; InvalidHashError covers garbage input.
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True if the hash was made with other parameters (rehash after the next good login)."""
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except ValueError:  # InvalidHashError is a ValueError: an unreadable hash must be replaced
        return True


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password: str, stored_hash: str) -> bool:
    return await asyncio.to_thread(verify_password, password, stored_hash)
