"""What a mail is before it is sent, and how it becomes an RFC 5322 message.

Bodies of our mails carry one-time sign-in links: whoever reads one can act as its recipient
until the link is used or expires. Nothing here logs a body, and ``OutgoingMail``'s repr hides it.
"""

from __future__ import annotations

import email.policy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import NonASCIILocalPartDefect
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from optin.errors import InvalidInput

#: Serialisation policy: CRLF line ends (RFC 5322) and a 7-bit transfer encoding for non-ASCII
#: bodies (base64 or quoted-printable), so any SMTP server accepts them without 8BITMIME.
POLICY = email.policy.SMTP.clone(cte_type="7bit")


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """One mail to one person. ``kind`` tags it for tests and metrics (e.g. "sign-in-link")."""

    to: str
    subject: str
    text: str = field(repr=False)
    html: str | None = field(default=None, repr=False)
    kind: str = "other"
    reply_to: str | None = None

    def __post_init__(self) -> None:
        # Header injection: a CR or LF in a header value could add recipients or headers.
        for name, value in (("to", self.to), ("subject", self.subject), ("kind", self.kind)):
            if "\r" in value or "\n" in value:
                raise InvalidInput(f"mail {name} must be a single line")
        if self.reply_to is not None and ("\r" in self.reply_to or "\n" in self.reply_to):
            raise InvalidInput("mail reply_to must be a single line")
        address = _single_address(self.to)
        if address is None or not address.domain:
            raise InvalidInput("mail 'to' must be exactly one address")


def build_message(mail: OutgoingMail, sender: str, *, now: datetime | None = None) -> EmailMessage:
    """A UTF-8 MIME message with From, To, Subject, Date and Message-ID set.

    Multipart/alternative when an HTML body is given (the text part first, as RFC 2046 asks).
    """
    to = _single_address(mail.to)
    # An internationalised address (RFC 6531) cannot be RFC 2047-encoded; it is sent as UTF-8
    # and needs a server offering SMTPUTF8 (smtplib asks for it and fails cleanly otherwise).
    international = to is not None and not to.addr_spec.isascii()
    message = EmailMessage(policy=POLICY.clone(utf8=True) if international else POLICY)
    message["From"] = sender
    message["To"] = mail.to
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    # The domain of our own sender address, not socket.getfqdn(): no DNS lookup on the send
    # path and no internal host name in the headers.
    message["Message-ID"] = make_msgid(domain=sender_domain(sender))
    # RFC 3834: an automatic mail, so out-of-office replies are not sent back to it.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Optin-Kind"] = mail.kind
    message.set_content(mail.text, charset="utf-8")
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html", charset="utf-8")
    return message


def sender_domain(sender: str) -> str:
    """The domain of a From value such as ``optin <no-reply@optin.example>``."""
    address = _single_address(sender)
    if address is None or not address.domain:
        raise InvalidInput(f"mail sender {sender!r} is not one address with a domain")
    return address.domain


def _single_address(value: str) -> Address | None:
    """The one address in a header value, or None when it holds none, several or is malformed."""
    probe = EmailMessage(policy=POLICY)
    try:
        probe["To"] = value
        header = probe["To"]
        addresses: tuple[Address, ...] = header.addresses
    except (ValueError, IndexError, TypeError):
        return None
    # A non-ASCII local part is valid under RFC 6531; any other defect means a malformed value.
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    if len(addresses) != 1 or defects:
        return None
    return addresses[0]


__all__ = ["POLICY", "OutgoingMail", "build_message", "sender_domain"]
