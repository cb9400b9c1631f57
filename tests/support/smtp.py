"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 at a free port, keeping what it receives.

Use it from any test directory by importing the fixture into that directory's ``conftest.py``
(pytest finds fixtures by name in a conftest's namespace)::

    from support.smtp import smtp_server  # noqa: F401  (a pytest fixture)

then ask for ``smtp_server`` in a test::

    async def test_sign_in_mail(smtp_server: SmtpServer) -> None:
        settings = Settings(..., mail=smtp_server.mail_settings())
        ...  # the code under test sends through SmtpMailSender
        [mail] = smtp_server.wait_for(1)
        assert mail.message["To"] == "guest@example.com"
        link = mail.text  # decoded text/plain body

``smtp_server`` is plain SMTP without login, fresh for each test. For login or STARTTLS, start
one yourself: ``with start_smtp_server(users={"u": "p"}, tls=SelfSignedTls.create()) as s: ...``.
The server runs in its own thread with its own event loop (aiosmtpd's Controller), so it works
from sync and async tests alike, and for an app under test in a subprocess (give it
``OPTIN_SMTP_HOST``/``OPTIN_SMTP_PORT`` from ``smtp_server.env()``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import ipaddress
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from optin.config import MailSettings

HOST = "127.0.0.1"
SENDER = "optin tests <no-reply@optin.test>"


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the server got it: envelope, raw bytes and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    authenticated_as: str | None
    tls: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, _class=EmailMessage, policy=SMTP_POLICY)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def text(self) -> str:
        """The decoded text/plain body, line ends as ``\\n`` (MIME bodies carry CRLF)."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, "the mail has no text/plain part"
        content = part.get_content()  # type: ignore[attr-defined]
        assert isinstance(content, str)
        return content.replace("\r\n", "\n")


@dataclass
class SelfSignedTls:
    """A throwaway certificate for 127.0.0.1 and localhost, and contexts for both ends."""

    cert_pem: bytes
    key_pem: bytes

    @classmethod
    def create(cls) -> SelfSignedTls:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "optin test SMTP")])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address(HOST)),
                    ]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # load_cert_chain reads files only; the temporary directory goes away right after.
        with tempfile.TemporaryDirectory() as tmp:
            cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
            cert.write_bytes(self.cert_pem)
            key.write_bytes(self.key_pem)
            context.load_cert_chain(cert, key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this certificate only."""
        return ssl.create_default_context(cadata=self.cert_pem.decode("ascii"))


@dataclass
class SmtpServer:
    host: str
    port: int
    users: Mapping[str, str] = field(default_factory=dict)
    tls: SelfSignedTls | None = None
    #: Recipients answered with 550 (to test refusals); the reply quotes the address, as real
    #: servers do.
    refuse_recipients: set[str] = field(default_factory=set)
    _received: list[ReceivedMail] = field(default_factory=list)
    _condition: threading.Condition = field(default_factory=threading.Condition)

    @property
    def received(self) -> list[ReceivedMail]:
        with self._condition:
            return list(self._received)

    def clear(self) -> None:
        with self._condition:
            self._received.clear()

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedMail]:
        """Block until ``count`` mails arrived (for senders in other threads or processes)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while len(self._received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} mail(s) within {timeout}s, got {len(self._received)}"
                    )
                self._condition.wait(remaining)
            return list(self._received)

    def mail_settings(self, **overrides: Any) -> MailSettings:
        """MailSettings pointing at this server (no login, no STARTTLS unless overridden)."""
        values: dict[str, Any] = {"smtp_host": self.host, "smtp_port": self.port, "sender": SENDER}
        values.update(overrides)
        return MailSettings(**values)

    def env(self) -> dict[str, str]:
        """``OPTIN_*`` variables that point a subprocess at this server."""
        return {
            "OPTIN_SMTP_HOST": self.host,
            "OPTIN_SMTP_PORT": str(self.port),
            "OPTIN_MAIL_FROM": SENDER,
        }

    # aiosmtpd handler hooks (run in the server's thread)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse_recipients:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        auth = session.auth_data
        mail = ReceivedMail(
            mail_from=envelope.mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(data),
            authenticated_as=auth.login.decode() if isinstance(auth, LoginPassword) else None,
            tls=session.ssl is not None,
        )
        with self._condition:
            self._received.append(mail)
            self._condition.notify_all()
        return "250 Message accepted for delivery"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            if self.users.get(login) == password:
                return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


@contextlib.contextmanager
def start_smtp_server(
    *,
    users: Mapping[str, str] | None = None,
    tls: SelfSignedTls | None = None,
    require_starttls: bool = False,
    implicit_tls: bool = False,
) -> Iterator[SmtpServer]:
    """Run a server until the block ends.

    ``users`` enables AUTH (PLAIN and LOGIN); without ``tls`` it is offered in clear text, which
    is acceptable on loopback only. ``tls`` offers STARTTLS, and with ``require_starttls`` the
    server refuses anything but EHLO/STARTTLS/QUIT before it. ``implicit_tls`` instead wraps the
    whole connection in TLS from the start (what port 465 does).
    """
    for attempt in range(5):
        server = SmtpServer(host=HOST, port=_free_port(), users=dict(users or {}), tls=tls)
        kwargs: dict[str, Any] = {
            "hostname": HOST,
            "port": server.port,
            "server_hostname": "smtp.optin.test",
            "enable_SMTPUTF8": True,
        }
        if users:
            kwargs.update(authenticator=server._authenticate, auth_require_tls=tls is not None)
        if tls is not None and implicit_tls:
            kwargs.update(ssl_context=tls.server_context())
        elif tls is not None:
            kwargs.update(tls_context=tls.server_context(), require_starttls=require_starttls)
        controller = Controller(server, **kwargs)
        try:
            controller.start()
        except (OSError, RuntimeError):
            if attempt == 4:
                raise
            continue  # another process took the port between probing and binding
        try:
            yield server
        finally:
            controller.stop()
        return


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1 for this test (see the module docstring)."""
    with start_smtp_server() as server:
        yield server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


__all__ = [
    "HOST",
    "SENDER",
    "ReceivedMail",
    "SelfSignedTls",
    "SmtpServer",
    "smtp_server",
    "start_smtp_server",
]
