"""OPTIN_AUDIT_CHECKPOINT_SECONDS: how often the server signs the audit log's tip."""

from __future__ import annotations

import pytest

from optin.config import Settings
from optin.errors import ConfigurationError


def test_default_is_five_minutes() -> None:
    assert Settings.from_env({}).console.audit_checkpoint_seconds == 300.0


def test_can_be_set() -> None:
    settings = Settings.from_env({"OPTIN_AUDIT_CHECKPOINT_SECONDS": "30"})
    assert settings.console.audit_checkpoint_seconds == 30.0


@pytest.mark.parametrize("raw", ["0", "-5", "nan", "inf", "soon"])
def test_nonsense_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="OPTIN_AUDIT_CHECKPOINT_SECONDS"):
        Settings.from_env({"OPTIN_AUDIT_CHECKPOINT_SECONDS": raw})
