"""install_jinja: `_`, gettext and ngettext in templates, per render or fixed language."""

from __future__ import annotations

from datetime import date

import pytest
from jinja2 import DictLoader, Environment

from optin.i18n import SUPPORTED, install_jinja, messages, translator

PAGE = (
    '<h1>{{ _("Enrol") }}</h1>'
    '<p>{{ _("Questions about your data: %(contact)s", contact=contact) }}</p>'
    '<p>{{ ngettext("We delete your data %(num)d day after your trip ends.", '
    '"We delete your data %(num)d days after your trip ends.", days) }}</p>'
    "{% trans %}Enrol{% endtrans %}"
)


@pytest.fixture
def env() -> Environment:
    environment = Environment(autoescape=True, loader=DictLoader({"page.html": PAGE}))
    install_jinja(environment)
    return environment


@pytest.mark.parametrize("lang", SUPPORTED)
def test_renders_in_the_language_of_the_context(env: Environment, lang: str) -> None:
    t = translator(lang)
    html = env.get_template("page.html").render(lang=lang, contact="<x@y>", days=7)
    assert html.count(t.gettext(messages.ENROL)) == 2
    assert t.gettext(messages.MAIL_CONTACT, contact="&lt;x@y&gt;") in html  # escaped param
    assert t.ngettext(*messages.RETENTION_DAYS, 7) in html
    assert "<x@y>" not in html


def test_without_lang_renders_the_default(env: Environment) -> None:
    html = env.get_template("page.html").render(contact="c", days=1)
    assert "We delete your data 1 day after your trip ends." in html


def test_fixed_language() -> None:
    env = Environment(autoescape=True)
    install_jinja(env, "ko")
    assert env.from_string('{{ _("Sign in") }}').render(lang="ja") == "로그인"


def test_translator_helpers() -> None:
    ja = translator("ja-JP")
    assert ja.lang == "ja"
    assert translator("xx").lang == "en"
    assert translator("zh") is translator("zh-Hans")  # cached per language
    assert ja.as_dict([messages.MOVE_CLOSER]) == {messages.MOVE_CLOSER: "もう少し近づいてください"}
    assert ja.format_date(date(2025, 4, 1)) == "2025年4月1日"
    assert translator("en").format_date(date(2025, 4, 1)) == "April 1, 2025"
    assert translator("ko").ngettext(*messages.MAIL_SIGN_IN_EXPIRY, 15) == (
        "이 링크는 한 번만 사용할 수 있으며 15분 후에 만료됩니다."
    )
