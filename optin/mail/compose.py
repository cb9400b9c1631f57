"""Mails in the recipient's language, from the strings in optin/i18n/messages.py."""

from __future__ import annotations

from optin.config import OperatorSettings
from optin.i18n import messages, translator
from optin.mail.message import OutgoingMail

SIGN_IN_LINK = "sign-in-link"


def sign_in_link_mail(
    to: str, link: str, lang: str, operator: OperatorSettings, *, valid_minutes: int
) -> OutgoingMail:
    """The mail carrying a one-time sign-in link. Text only: no tracking, nothing remote.

    The link goes on a line of its own so mail clients make it clickable and nothing glues
    punctuation to it. ``Reply-To`` is the operator's contact point (the single inquiry desk).
    """
    t = translator(lang)
    lines = [
        t.gettext(messages.MAIL_GREETING),
        "",
        t.gettext(messages.MAIL_SIGN_IN_INTRO),
        "",
        link,
        "",
        t.ngettext(*messages.MAIL_SIGN_IN_EXPIRY, valid_minutes),
        t.gettext(messages.MAIL_NOT_REQUESTED),
        "",
        "-- ",
        t.gettext(messages.MAIL_SENT_BY, operator=operator.legal_name),
        t.gettext(messages.MAIL_CONTACT, contact=operator.contact_email),
        f"{operator.contact_phone}, {operator.contact_address}",
    ]
    return OutgoingMail(
        to=to,
        subject=t.gettext(messages.MAIL_SIGN_IN_SUBJECT),
        text="\n".join(lines) + "\n",
        kind=SIGN_IN_LINK,
        reply_to=operator.contact_email,
    )


__all__ = ["SIGN_IN_LINK", "sign_in_link_mail"]
