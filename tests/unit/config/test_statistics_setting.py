"""OPTIN_STATS_MIN_COUNT: venue statistics withhold counts below it."""

from __future__ import annotations

import pytest

from optin.config import Settings
from optin.errors import ConfigurationError


def test_default_is_five() -> None:
    assert Settings.from_env({}).statistics.min_count == 5


def test_can_be_set() -> None:
    assert Settings.from_env({"OPTIN_STATS_MIN_COUNT": "10"}).statistics.min_count == 10


@pytest.mark.parametrize("raw", ["0", "-1", "2.5", "few"])
def test_nonsense_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="OPTIN_STATS_MIN_COUNT"):
        Settings.from_env({"OPTIN_STATS_MIN_COUNT": raw})
