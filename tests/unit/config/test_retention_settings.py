"""OPTIN_RETENTION_*: how long the retention sweep keeps records kept for a fixed period."""

from __future__ import annotations

from dataclasses import fields

import pytest

from optin.config import RetentionSettings, Settings
from optin.errors import ConfigurationError

PERIODS = [period.name for period in fields(RetentionSettings)]


def test_defaults() -> None:
    assert Settings.from_env({}).retention == RetentionSettings(
        event_days=30,
        spent_access_days=1,
        privacy_request_years=3,
        audit_days=365,
        provision_years=3,
        bookkeeping_years=7,
    )


@pytest.mark.parametrize("period", PERIODS)
def test_each_period_is_read_from_its_variable(period: str) -> None:
    settings = Settings.from_env({f"OPTIN_RETENTION_{period.upper()}": "11"}).retention
    assert getattr(settings, period) == 11
    others = {name for name in PERIODS if name != period}
    assert all(getattr(settings, name) == getattr(RetentionSettings(), name) for name in others)


@pytest.mark.parametrize("raw", ["0", "-1", "2.5", "long"])
def test_nonsense_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="OPTIN_RETENTION_EVENT_DAYS"):
        Settings.from_env({"OPTIN_RETENTION_EVENT_DAYS": raw})
