"""Outgoing mail: sign-in links and receipts.

- message: ``OutgoingMail`` (to, subject, text, optional html, ``kind`` tag) and
  ``build_message`` (UTF-8 MIME with Date, Message-ID, Auto-Submitted).
- base:    the ``MailSender`` protocol services depend on; ``MemoryMailSender`` for unit tests.
- smtp:    ``SmtpMailSender``: STARTTLS or implicit TLS (port 465), login, timeouts.
- outbox:  ``OutboxMailSender``: 0600 ``.eml`` files in a 0700 folder, when no SMTP host is set.
- compose: the sign-in-link mail in the recipient's language.

Mail bodies carry one-time links: they are never logged, and an outbox folder is a secret.
"""

from __future__ import annotations

from optin.config import Settings
from optin.mail.base import MailSender, MemoryMailSender
from optin.mail.compose import SIGN_IN_LINK, sign_in_link_mail
from optin.mail.message import OutgoingMail, build_message
from optin.mail.outbox import OutboxMailSender, read_mail, read_outbox
from optin.mail.smtp import SmtpMailSender


def mail_sender_from_settings(settings: Settings) -> MailSender:
    """SMTP when ``OPTIN_SMTP_HOST`` is set, else the outbox folder in the data directory."""
    if settings.mail.smtp_host:
        return SmtpMailSender(settings.mail)
    return OutboxMailSender(settings.outbox_dir, sender=settings.mail.sender)


__all__ = [
    "SIGN_IN_LINK",
    "MailSender",
    "MemoryMailSender",
    "OutboxMailSender",
    "OutgoingMail",
    "SmtpMailSender",
    "build_message",
    "mail_sender_from_settings",
    "read_mail",
    "read_outbox",
    "sign_in_link_mail",
]
