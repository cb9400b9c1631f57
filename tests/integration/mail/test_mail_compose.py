"""The sign-in mail in each language, sent through the real SMTP server."""

from __future__ import annotations

import pytest

from optin.config import OperatorSettings
from optin.i18n import SUPPORTED, messages, translator
from optin.mail import SIGN_IN_LINK, SmtpMailSender, sign_in_link_mail

from support.smtp import SmtpServer

LINK = "https://optin.example/portal/sign-in?token=sil_" + "A" * 43
OPERATOR = OperatorSettings(
    legal_name="Shirahama Resort Services K.K.",
    contact_email="privacy@shirahama.example",
    contact_phone="+81-739-00-1234",
    contact_address="1-1 Shirahama, Wakayama",
)


@pytest.mark.parametrize("lang", SUPPORTED)
async def test_sign_in_mail_arrives_in_the_language_asked(
    smtp_server: SmtpServer, lang: str
) -> None:
    mail = sign_in_link_mail("guest@example.jp", LINK, lang, OPERATOR, valid_minutes=15)
    assert mail.kind == SIGN_IN_LINK

    await SmtpMailSender(smtp_server.mail_settings()).send(mail)

    [received] = smtp_server.received
    t = translator(lang)
    message = received.message
    assert message["Subject"] == t.gettext(messages.MAIL_SIGN_IN_SUBJECT)
    assert message["Reply-To"] == OPERATOR.contact_email
    lines = received.text.splitlines()
    assert LINK in lines  # on a line of its own, intact
    assert t.ngettext(*messages.MAIL_SIGN_IN_EXPIRY, 15) in lines
    assert t.gettext(messages.MAIL_CONTACT, contact=OPERATOR.contact_email) in lines
    assert any(OPERATOR.legal_name in line for line in lines)
    assert any(OPERATOR.contact_phone in line for line in lines)
