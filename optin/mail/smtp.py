"""Delivery over SMTP with the standard library, in a worker thread.

STARTTLS when configured, implicit TLS on port 465, login when a user is set. A failure becomes
``MailDeliveryFailed`` whose detail and log line name the step and the SMTP reply code only:
never the password, the recipient, the body (it holds a one-time link) or the server's reply
text (which can quote the recipient's address).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage

from optin.config import MailSettings
from optin.errors import ConfigurationError, MailDeliveryFailed
from optin.mail.message import OutgoingMail, build_message

log = logging.getLogger(__name__)

#: Port of SMTP submission over implicit TLS (RFC 8314); any other port starts in clear text.
IMPLICIT_TLS_PORT = 465
DEFAULT_TIMEOUT = 15.0


class SmtpMailSender:
    """Sends each mail on its own SMTP connection (sign-in links are rare; no pool to go stale)."""

    def __init__(
        self,
        settings: MailSettings,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        implicit_tls: bool | None = None,
    ) -> None:
        """``implicit_tls`` defaults to "the port is 465"; ``ssl_context`` to the system CAs."""
        if not settings.smtp_host:
            raise ConfigurationError("OPTIN_SMTP_HOST is not set; SMTP delivery needs a host")
        if settings.smtp_user and not settings.smtp_password:
            raise ConfigurationError("OPTIN_SMTP_USER is set but OPTIN_SMTP_PASSWORD is not")
        if not (settings.smtp_user or "").isascii() or not (settings.smtp_password or "").isascii():
            # smtplib encodes credentials as ASCII; failing at login would put the password into
            # a UnicodeEncodeError. Say so at start-up instead, without echoing the value.
            raise ConfigurationError("OPTIN_SMTP_USER and OPTIN_SMTP_PASSWORD must be ASCII")
        self._implicit_tls = (
            settings.smtp_port == IMPLICIT_TLS_PORT if implicit_tls is None else implicit_tls
        )
        encrypted = settings.smtp_starttls or self._implicit_tls
        if settings.smtp_user and not encrypted and not _is_loopback(settings.smtp_host):
            raise ConfigurationError(
                "OPTIN_SMTP_USER is set without OPTIN_SMTP_STARTTLS=true or port 465: the SMTP "
                "password would cross the network in clear text"
            )
        self._settings = settings
        self._timeout = timeout
        self._ssl_context = ssl_context or ssl.create_default_context()
        self._local_hostname = local_hostname

    @property
    def settings(self) -> MailSettings:
        return self._settings

    async def send(self, message: OutgoingMail) -> None:
        built = build_message(message, self._settings.sender)
        await asyncio.to_thread(self._deliver, built, message.kind)

    def _deliver(self, message: EmailMessage, kind: str) -> None:
        settings = self._settings
        host, port = settings.smtp_host or "", settings.smtp_port
        step = "connect"
        try:
            smtp = self._connect(host, port)
            try:
                if settings.smtp_starttls and not self._implicit_tls:
                    step = "starttls"
                    # Raises SMTPNotSupportedError when the server does not offer it: never
                    # fall back to clear text when encryption was asked for.
                    smtp.starttls(context=self._ssl_context)
                    smtp.ehlo()
                if settings.smtp_user:
                    step = "login"
                    smtp.login(settings.smtp_user, settings.smtp_password or "")
                step = "send"
                refused = smtp.send_message(message)
                if refused:  # only possible with several recipients; kept for completeness
                    raise smtplib.SMTPRecipientsRefused(refused)
            finally:
                _close(smtp)
        except (smtplib.SMTPException, OSError) as exc:
            code = getattr(exc, "smtp_code", None)
            suffix = f" (SMTP {code})" if isinstance(code, int) else ""
            log.warning(
                "mail (%s) not delivered via %s:%d at %s: %s%s",
                kind,
                host,
                port,
                step,
                type(exc).__name__,
                suffix,
            )
            # ``from None``: the chained exception's text is the server's reply, kept out of
            # tracebacks for the reason given in the module docstring.
            raise MailDeliveryFailed(
                f"mail could not be sent: {_describe(exc, step)}{suffix}"
            ) from None

    def _connect(self, host: str, port: int) -> smtplib.SMTP:
        local_hostname = self._local_hostname or _fqdn()
        if self._implicit_tls:
            return smtplib.SMTP_SSL(
                host,
                port,
                local_hostname=local_hostname,
                timeout=self._timeout,
                context=self._ssl_context,
            )
        smtp = smtplib.SMTP(host, port, local_hostname=local_hostname, timeout=self._timeout)
        smtp.ehlo()
        return smtp


def _describe(exc: BaseException, step: str) -> str:
    """Fixed phrases only, so nothing the server or the caller supplied reaches the message."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "the mail server refused the login"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return {
            "starttls": "the mail server does not offer STARTTLS",
            "login": "the mail server does not offer login (AUTH)",
        }.get(step, "the mail server does not support this address (SMTPUTF8)")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the mail server refused the recipient"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return "the mail server refused the sender address"
    if isinstance(exc, smtplib.SMTPDataError):
        return "the mail server refused the message"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read timeout as a disconnection; the timeout is its context.
        if isinstance(exc.__context__, TimeoutError):
            return f"the mail server did not answer in time ({step})"
        return f"the mail server closed the connection ({step})"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "the TLS handshake with the mail server failed"
    if isinstance(exc, TimeoutError):
        return f"the mail server did not answer in time ({step})"
    if isinstance(exc, ConnectionRefusedError):
        return "the mail server refused the connection"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"the mail server answered with an error ({step})"
    if isinstance(exc, OSError):
        return f"the mail server cannot be reached ({step})"
    return f"SMTP error ({step})"


def _close(smtp: smtplib.SMTP) -> None:
    # QUIT may fail after the server accepted the message; that must not turn into a failure
    # report (the caller would send a second link).
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.cache
def _fqdn() -> str:
    # smtplib would call getfqdn() (a DNS lookup) on every connection; once per process is enough.
    return socket.getfqdn()


__all__ = ["DEFAULT_TIMEOUT", "IMPLICIT_TLS_PORT", "SmtpMailSender"]
