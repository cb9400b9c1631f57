"""Private key files: created atomically with mode 0600, refused when others can read them.

Shared by the master keyring (keys.py) and the signing key (signing.py) so both apply exactly the
same rules. POSIX only: the service runs on Linux.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from optin.errors import ConfigurationError

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
# Any permission bit for group or others: readable, writable or executable by someone else.
_OTHERS_MASK = 0o077


def read_private_file(path: Path, *, what: str) -> bytes:
    """Read a secret file after checking it is a regular file only its owner can access.

    The check uses ``fstat`` on the opened descriptor, so the file checked is the file read.
    ``FileNotFoundError`` passes through: whether a missing file is an error is the caller's call.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigurationError(f"{what} {path} cannot be opened: {exc.strerror}") from None
    try:
        _check_private(os.fstat(fd), path, what)
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def check_private_file(path: Path, *, what: str) -> None:
    """The rule of ``read_private_file`` for a file another library opens itself (SQLite)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigurationError(f"{what} {path} cannot be opened: {exc.strerror}") from None
    _check_private(info, path, what)


def _check_private(info: os.stat_result, path: Path, what: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise ConfigurationError(f"{what} {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & _OTHERS_MASK:
        raise ConfigurationError(
            f"{what} {path} is accessible to group or others (mode {mode:04o}); "
            f"it must be private to the service user: run `chmod 600 {path}`"
        )


def create_private_file(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` with mode 0600, unless it exists already.

    Returns False when the file already existed (it is left untouched). The content is written
    to a temporary file first and hard-linked into place, which fails if the name is taken: a
    reader never sees a half-written key, and two processes starting at once cannot both create
    (and one silently lose) a key.
    """
    ensure_private_dir(path.parent)
    temp = _write_temp(path, data)
    try:
        path.hardlink_to(temp)
    except FileExistsError:
        return False
    finally:
        temp.unlink()
    _fsync_dir(path.parent)
    return True


def replace_private_file(path: Path, data: bytes) -> None:
    """Atomically replace ``path`` with ``data`` (mode 0600): readers see the old or new file."""
    ensure_private_dir(path.parent)
    temp = _write_temp(path, data)
    try:
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def ensure_private_dir(directory: Path) -> None:
    """Create the directory (mode 0700) if absent; an existing directory is left as it is."""
    directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock for read-modify-write of ``path`` across processes.

    The lock lives on a sidecar ``<name>.lock`` file because ``os.replace`` swaps the inode of
    the file itself, which would silently drop a lock taken on it.
    """
    ensure_private_dir(path.parent)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _write_temp(path: Path, data: bytes) -> Path:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        # The mode given to open() is masked by the umask; set it explicitly to be sure.
        os.fchmod(fd, PRIVATE_FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return temp


def _fsync_dir(directory: Path) -> None:
    """Make the new directory entry durable, so a crash cannot lose a freshly created key."""
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
