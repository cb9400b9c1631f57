"""The notice says what is kept after deletion, unlinked from the person, and for how long, with
each period taken from the settings the retention sweep purges by: set other periods and the
rendered notice states them, in every language. It no longer promises that "everything" goes."""

from __future__ import annotations

import dataclasses

import pytest

from optin.config import RetentionSettings, Settings
from optin.db.enums import Language, Purpose
from optin.db.register import REGISTER, PurgedAfter
from optin.notices import RETENTION_FIELDS, NoticeVenue, render_notice

VENUES = [NoticeVenue("Shirahama Onsen Hotel", "onsen-hotel")]
#: Periods no default has, all different, so each one found is the one set.
PERIODS = RetentionSettings(
    event_days=43,
    venue_change_days=11,
    provision_years=4,
    bookkeeping_years=9,
    privacy_request_years=6,
)
#: How each language writes a number of days and of years.
UNITS = {
    Language.EN: ("{} days", "{} years"),
    Language.JA: ("{}日間", "{}年間"),
    Language.ZH: ("{}天", "{}年"),
    Language.KO: ("{}일", "{}년"),
}
#: The words that say the kept records are no longer linked to the person.
UNLINKED = {
    Language.EN: "no longer linked to your email address or your face",
    Language.JA: "メールアドレスや顔とは結び付かない形で保存",
    Language.ZH: "不再与您的电子邮件地址或面部关联",
    Language.KO: "이메일 주소나 얼굴과 더 이상 연결되지 않은 형태로 보관",
}


def test_every_stated_period_is_a_purge_rule_of_the_register() -> None:
    purged = {
        entry.rule.period for entry in REGISTER.values() if isinstance(entry.rule, PurgedAfter)
    }
    assert set(RETENTION_FIELDS) <= purged


@pytest.mark.parametrize("language", list(Language))
def test_the_notice_states_each_period_the_settings_give(language: Language) -> None:
    # The grace period too, so no default (7 days) is left in the text by it.
    settings = Settings.from_env({"OPTIN_RETENTION_GRACE_DAYS": "13"})
    settings = dataclasses.replace(settings, retention=PERIODS)
    body = render_notice(language, settings, [Purpose.ENTRY], VENUES).body
    days, years = UNITS[language]
    for name in RETENTION_FIELDS:
        value = getattr(PERIODS, name)
        unit = days if name.endswith("_days") else years
        assert unit.format(value) in body, (language, name)
        # Not the default: the text follows the setting.
        assert unit.format(getattr(RetentionSettings(), name)) not in body, (language, name)
    assert UNLINKED[language] in body
    assert "everything is deleted" not in body
