"""Mails in the recipient's language, from the strings in optin/i18n/messages.py."""

from __future__ import annotations

from collections.abc import Sequence

from optin.config import OperatorSettings
from optin.i18n import messages, translator
from optin.i18n.catalog import Translator
from optin.mail.message import OutgoingMail

SIGN_IN_LINK = "sign-in-link"
PURPOSE_CHANGE = "purpose-change"


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
        *_signature(t, operator),
    ]
    return OutgoingMail(
        to=to,
        subject=t.gettext(messages.MAIL_SIGN_IN_SUBJECT),
        text="\n".join(lines) + "\n",
        kind=SIGN_IN_LINK,
        reply_to=operator.contact_email,
    )


def _signature(t: Translator, operator: OperatorSettings) -> list[str]:
    return [
        "-- ",
        t.gettext(messages.MAIL_SENT_BY, operator=operator.legal_name),
        t.gettext(messages.MAIL_CONTACT, contact=operator.contact_email),
        f"{operator.contact_phone}, {operator.contact_address}",
    ]


def purpose_change_mail(
    to: str,
    lang: str,
    operator: OperatorSettings,
    *,
    effective: str,
    purposes: Sequence[str],
    portal_link: str,
) -> OutgoingMail:
    """Told in advance: from ``effective``, the notice changes what ``purposes`` mean, and the
    person's consent to them pauses until they agree again. ``effective`` is already formatted
    for the person's language; ``purposes`` are message ids of purpose names."""
    t = translator(lang)
    names = ", ".join(t.gettext(purpose) for purpose in purposes)
    lines = [
        t.gettext(messages.MAIL_GREETING),
        "",
        t.gettext(messages.MAIL_PURPOSE_CHANGE_INTRO, date=effective, purposes=names),
        t.gettext(messages.MAIL_PURPOSE_CHANGE_PAUSE),
        "",
        t.gettext(messages.MAIL_PURPOSE_CHANGE_ACTION),
        "",
        portal_link,
        "",
        *_signature(t, operator),
    ]
    return OutgoingMail(
        to=to,
        subject=t.gettext(messages.MAIL_PURPOSE_CHANGE_SUBJECT),
        text="\n".join(lines) + "\n",
        kind=PURPOSE_CHANGE,
        reply_to=operator.contact_email,
    )


__all__ = ["PURPOSE_CHANGE", "SIGN_IN_LINK", "purpose_change_mail", "sign_in_link_mail"]
