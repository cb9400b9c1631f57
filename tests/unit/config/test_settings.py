"""Settings come from OPTIN_* variables, with safe defaults and readable refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from optin.config import Settings, sqlite_url
from optin.errors import ConfigurationError


def test_defaults_live_in_the_data_dir() -> None:
    settings = Settings.from_env({})
    assert settings.data_dir == Path(".optin")
    assert settings.database_url == sqlite_url(Path(".optin/optin.db"))
    assert settings.master_key_file == Path(".optin/master.key")
    assert settings.subject_keys_file == Path(".optin/subject-keys.db")
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_everything_follows_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path)})
    assert settings.database_url == sqlite_url(tmp_path / "optin.db")
    assert settings.master_key_file.parent == tmp_path


def test_explicit_values_win() -> None:
    settings = Settings.from_env(
        {
            "OPTIN_DATABASE_URL": "postgresql+asyncpg://u@db/optin",
            "OPTIN_PORT": "9000",
            "OPTIN_HOST": "0.0.0.0",
            "OPTIN_MATCH_THRESHOLD": "0.5",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://u@db/optin"
    assert settings.port == 9000
    assert settings.host == "0.0.0.0"
    assert settings.faces.match_threshold == 0.5


def test_database_url_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text("postgresql+asyncpg://optin:s3cret@db/optin\n")
    settings = Settings.from_env({"OPTIN_DATABASE_URL_FILE": str(secret)})
    assert settings.database_url == "postgresql+asyncpg://optin:s3cret@db/optin"


def test_missing_secret_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="OPTIN_DATABASE_URL_FILE"):
        Settings.from_env({"OPTIN_DATABASE_URL_FILE": str(tmp_path / "absent")})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPTIN_PORT", "eighty"),
        ("OPTIN_PORT", "70000"),
        ("OPTIN_MATCH_THRESHOLD", "3"),
        ("OPTIN_MAX_IMAGE_BYTES", "-1"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: value})
