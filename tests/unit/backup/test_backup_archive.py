"""Backup folders: manifests, checks, and how the backup's key files join the current ones."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from optin.backup.archive import BackupDamaged, BackupWriter, verify
from optin.backup.operations import _plan_keys
from optin.config import Settings
from optin.crypto.keys import Keyring, LocalKeyFileProvider
from optin.crypto.signing import Signer
from optin.errors import ConfigurationError, OptinError


def _settings(tmp_path: Path, name: str) -> Settings:
    return Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path / name)})


def _backup(tmp_path: Path, settings: Settings) -> Path:
    LocalKeyFileProvider(settings.master_key_file)
    Signer.load_or_create(settings.signing_key_file)
    writer = BackupWriter(tmp_path / "backup")
    writer.add_bytes("master.key", settings.master_key_file.read_bytes())
    writer.add_bytes("signing.key", settings.signing_key_file.read_bytes())
    writer.finish("database", optin_version="test", database="sqlite")
    return writer.folder


def _run(steps: dict[str, object]) -> dict[str, str]:
    return {name: step() for name, step in steps.items()}  # type: ignore[operator]


def test_a_manifest_names_every_file_with_its_digest(tmp_path: Path) -> None:
    folder = _backup(tmp_path, _settings(tmp_path, "data"))
    manifest = verify(folder)
    assert set(manifest.files) == {"master.key", "signing.key"}
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert all((folder / name).stat().st_mode & 0o777 == 0o600 for name in manifest.files)


@pytest.mark.parametrize("name", ["../master.key", "/etc/passwd", "notes.txt"])
def test_a_manifest_naming_other_files_is_refused(tmp_path: Path, name: str) -> None:
    folder = _backup(tmp_path, _settings(tmp_path, "data"))
    document = json.loads((folder / "manifest.json").read_text())
    document["files"][name] = document["files"].pop("master.key")
    (folder / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(BackupDamaged, match="unexpected file name"):
        verify(folder)


def test_a_backup_folder_must_be_new_or_empty(tmp_path: Path) -> None:
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(OptinError, match="not an empty folder"):
        BackupWriter(tmp_path / "used")


def test_keys_missing_here_are_restored_and_equal_ones_left_alone(tmp_path: Path) -> None:
    source = _settings(tmp_path, "data")
    folder = _backup(tmp_path, source)
    assert _run(_plan_keys(source, folder)) == {
        "master_keyring": "unchanged",
        "signing_key": "unchanged",
    }
    fresh = _settings(tmp_path, "fresh")
    assert _run(_plan_keys(fresh, folder)) == {
        "master_keyring": "restored",
        "signing_key": "restored",
    }
    assert fresh.master_key_file.read_bytes() == source.master_key_file.read_bytes()
    assert fresh.master_key_file.stat().st_mode & 0o777 == 0o600


def test_a_keyring_rotated_since_is_kept_and_one_missing_old_keys_is_merged(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, "data")
    folder = _backup(tmp_path, settings)
    old = Keyring.from_json(settings.master_key_file.read_bytes())
    provider = LocalKeyFileProvider(settings.master_key_file)
    new_id = provider.rotate()
    assert _run(_plan_keys(settings, folder))["master_keyring"].startswith("kept")

    # A keyring that lost the backup's key (edited by hand): the old key comes back, the
    # current key stays current.
    trimmed = dataclasses.replace(
        Keyring.from_json(settings.master_key_file.read_bytes()),
        keys={new_id: provider.get_key(new_id)},
    )
    settings.master_key_file.write_bytes(trimmed.to_json())
    assert _run(_plan_keys(settings, folder))["master_keyring"].startswith("merged: 1")
    merged = Keyring.from_json(settings.master_key_file.read_bytes())
    assert merged.current == new_id
    assert set(merged.keys) == {old.current, new_id}


def test_unrelated_keys_are_refused_before_anything_changes(tmp_path: Path) -> None:
    folder = _backup(tmp_path, _settings(tmp_path, "data"))
    other = _settings(tmp_path, "other")
    LocalKeyFileProvider(other.master_key_file)
    with pytest.raises(ConfigurationError, match="is not the backup's"):
        _plan_keys(other, folder)

    same_ring = _settings(tmp_path, "same-ring")
    same_ring.ensure_data_dir()
    same_ring.master_key_file.write_bytes((folder / "master.key").read_bytes())
    same_ring.master_key_file.chmod(0o600)
    Signer.load_or_create(same_ring.signing_key_file)
    with pytest.raises(ConfigurationError, match=r"signing key .* differs"):
        _plan_keys(same_ring, folder)
