"""The notice says when data goes to third parties: only with the person's separate consent, to
recipients they choose, or on a legal obligation with the basis recorded (BRIEF ⑮), in every
language; and a notice with a required field empty is still refused."""

from __future__ import annotations

import dataclasses

import pytest

from optin.config import OperatorSettings, Settings
from optin.db.enums import Language, Purpose
from optin.errors import InvalidInput
from optin.notices import NoticeVenue, render_notice

VENUES = [NoticeVenue("Shirahama Onsen Hotel", "onsen-hotel")]
#: Per language, words that must appear in the provision section: separate consent, the
#: person's own choice of recipient, withdrawal, a legal obligation, its recorded basis.
PROVISION_WORDS = {
    Language.EN: (
        "separate consent",
        "recipients you choose",
        "withdraw",
        "law obliges us",
        "records the legal basis",
        "never given to anyone",
    ),
    Language.JA: (
        "別途の同意",
        "お客様が選んだ提供先",
        "撤回",
        "法令に基づく義務",
        "法的根拠を記録",
        "誰にも提供しません",
    ),
    Language.ZH: (
        "另行同意",
        "您选择的接收方",
        "撤回",
        "法律义务",
        "记录其法律依据",
        "绝不提供给任何人",
    ),
    Language.KO: (
        "별도 동의",
        "고객님이 선택한 곳",
        "철회",
        "법령에 따른 의무",
        "법적 근거를 기록",
        "누구에게도 제공하지 않습니다",
    ),
}


@pytest.fixture
def settings() -> Settings:
    return Settings.from_env({})


@pytest.mark.parametrize("language", list(Language))
def test_the_notice_names_both_grounds_for_provision(
    settings: Settings, language: Language
) -> None:
    notice = render_notice(language, settings, [Purpose.ENTRY], VENUES)
    for words in PROVISION_WORDS[language]:
        assert words in notice.body, (language, words)
    # The old promise ("to no one, except where a law requires it") is gone everywhere.
    assert "no one else, except" not in notice.body


@pytest.mark.parametrize("language", list(Language))
def test_a_required_field_left_empty_still_blocks_the_notice(
    settings: Settings, language: Language
) -> None:
    blank = dataclasses.replace(settings, operator=OperatorSettings(contact_address="  "))
    with pytest.raises(InvalidInput, match="contact_address"):
        render_notice(language, blank, [Purpose.ENTRY], VENUES)
    with pytest.raises(InvalidInput, match="venue_list"):
        render_notice(language, settings, [Purpose.ENTRY], [])
