"""Who is using a data directory: ``optin serve`` holds a shared lock, a restore an exclusive one.

The lock is an ``flock`` on ``serve.lock`` in the data directory, so it also works between
containers that mount the same volume. Several servers on one data directory coexist; a restore
is refused while any of them runs, and a server refuses to start while a restore runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from optin.config import Settings
from optin.crypto.files import PRIVATE_FILE_MODE
from optin.errors import Conflict

LOCK_NAME = "serve.lock"


class ServiceRunning(Conflict):
    """A restore cannot run while the service uses the data directory or the database."""

    code = "service-running"


@contextlib.contextmanager
def _flock(settings: Settings, operation: int) -> Iterator[bool]:
    settings.ensure_data_dir()
    fd = os.open(
        settings.data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE
    )
    try:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[None]:
    """Held by ``optin serve`` for as long as it serves (the workers' parent holds it)."""
    with _flock(settings, fcntl.LOCK_SH) as held:
        if not held:
            raise ServiceRunning(
                f"a restore is running on the data directory {settings.data_dir}; "
                "start the server when it has finished"
            )
        yield


@contextlib.contextmanager
def exclusive(settings: Settings) -> Iterator[None]:
    """Held by a restore; refused while a server runs on this data directory."""
    with _flock(settings, fcntl.LOCK_EX) as held:
        if not held:
            raise ServiceRunning(
                f"optin serve is running on the data directory {settings.data_dir}: stop it "
                "(and the gate agents) first, e.g. `docker compose stop app gate`, then restore"
            )
        yield
