"""The private-file helpers shared by the master keyring and the signing key."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from optin.crypto.files import create_private_file, read_private_file, replace_private_file
from optin.errors import ConfigurationError


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask of 0 would leave a file created with default modes world-readable."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("permissive_umask")
def test_created_file_is_0600_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "secret"
    assert create_private_file(path, b"s3cret")
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert read_private_file(path, what="test file") == b"s3cret"


def test_create_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    assert create_private_file(path, b"first")
    assert not create_private_file(path, b"second")
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]  # no temp file left


@pytest.mark.usefixtures("permissive_umask")
def test_replace_keeps_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    create_private_file(path, b"old")
    replace_private_file(path, b"new")
    assert path.read_bytes() == b"new"
    assert mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_read_refuses_a_directory(tmp_path: Path) -> None:
    directory = tmp_path / "dir"
    directory.mkdir(mode=0o700)
    with pytest.raises(ConfigurationError, match="not a regular file"):
        read_private_file(directory, what="test file")


def test_read_of_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_private_file(tmp_path / "absent", what="test file")


def test_read_follows_symlinks_but_checks_the_target(tmp_path: Path) -> None:
    target = tmp_path / "target"
    create_private_file(target, b"data")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert read_private_file(link, what="test file") == b"data"
    target.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        read_private_file(link, what="test file")
