"""SmtpMailSender against a real SMTP server on loopback (aiosmtpd, tests/support/smtp.py)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from optin.config import MailSettings
from optin.errors import ConfigurationError, InvalidInput, MailDeliveryFailed
from optin.mail import OutgoingMail, SmtpMailSender

from support.smtp import SENDER, SelfSignedTls, SmtpServer, start_smtp_server

PASSWORD = "pw-never-in-logs-7f3a"
LINK = "https://optin.example/portal/sign-in?token=sil_" + "Q" * 43
RECIPIENT = "guest@example.jp"


def _mail(**overrides: object) -> OutgoingMail:
    values: dict[str, object] = {
        "to": RECIPIENT,
        "subject": "サインイン用リンクのお知らせ",
        "text": f"ご利用ありがとうございます。\n以下のリンクからサインインできます。\n{LINK}\n",
        "kind": "sign-in-link",
    }
    values.update(overrides)
    return OutgoingMail(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tls() -> SelfSignedTls:
    return SelfSignedTls.create()


class OurLog:
    """What optin itself logged (the test server's own "mail.log" lines are not ours)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    @property
    def text(self) -> str:
        return "\n".join(
            f"{r.name} {r.getMessage()} {r.exc_text or ''}"
            for r in self._caplog.records
            if r.name.startswith("optin")
        )


@pytest.fixture
def mail_log(caplog: pytest.LogCaptureFixture) -> Iterator[OurLog]:
    with caplog.at_level(logging.DEBUG, logger="optin"):
        yield OurLog(caplog)


def _assert_no_secrets(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
        assert LINK not in text
        assert "sil_" not in text
        assert RECIPIENT not in text


@pytest.mark.parametrize(
    ("subject", "text"),
    [
        pytest.param("サインイン用リンクのお知らせ", f"こんにちは。\n{LINK}\n", id="ja"),
        pytest.param("您的登录链接", f"您好：\n请使用以下链接登录。\n{LINK}\n", id="zh"),
        pytest.param("로그인 링크 안내", f"안녕하세요.\n{LINK}\n", id="ko"),
        pytest.param("Your sign-in link", f"Hello,\n{LINK}\n", id="en"),
    ],
)
async def test_mail_arrives_intact_in_every_language(
    smtp_server: SmtpServer, subject: str, text: str
) -> None:
    await SmtpMailSender(smtp_server.mail_settings()).send(_mail(subject=subject, text=text))

    [received] = smtp_server.received
    assert received.mail_from == "no-reply@optin.test"
    assert received.rcpt_tos == (RECIPIENT,)
    assert not received.tls
    assert received.authenticated_as is None
    message = received.message
    assert message["Subject"] == subject
    assert message["From"] == SENDER
    assert message["To"] == RECIPIENT
    assert message["Date"].datetime.tzinfo is not None
    assert message["Message-ID"].endswith("@optin.test>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Optin-Kind"] == "sign-in-link"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert received.text == text
    # 7-bit transfer encoding: nothing relies on the server accepting 8-bit data.
    assert received.data.isascii()


async def test_html_alternative_arrives_with_text_first(smtp_server: SmtpServer) -> None:
    html = f'<p>ご利用ありがとうございます。</p><p><a href="{LINK}">サインイン</a></p>'
    await SmtpMailSender(smtp_server.mail_settings()).send(_mail(html=html))

    message = smtp_server.received[0].message
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    html_body = parts[1].get_content()  # type: ignore[attr-defined]
    assert html_body.replace("\r\n", "\n") == html + "\n"


async def test_internationalised_address_uses_smtputf8(smtp_server: SmtpServer) -> None:
    await SmtpMailSender(smtp_server.mail_settings()).send(_mail(to="山田@例え.jp"))

    [received] = smtp_server.received
    assert received.rcpt_tos == ("山田@例え.jp",)
    assert received.text.endswith(LINK + "\n")


async def test_login_on_loopback_without_tls(mail_log: OurLog) -> None:
    with start_smtp_server(users={"optin": PASSWORD}) as server:
        settings = server.mail_settings(smtp_user="optin", smtp_password=PASSWORD)
        await SmtpMailSender(settings).send(_mail())
        [received] = server.received
    assert received.authenticated_as == "optin"
    _assert_no_secrets(mail_log.text)


async def test_starttls_then_login(tls: SelfSignedTls) -> None:
    with start_smtp_server(users={"optin": PASSWORD}, tls=tls, require_starttls=True) as server:
        settings = server.mail_settings(
            smtp_user="optin", smtp_password=PASSWORD, smtp_starttls=True
        )
        await SmtpMailSender(settings, ssl_context=tls.client_context()).send(_mail())
        [received] = server.received
    assert received.tls
    assert received.authenticated_as == "optin"
    assert received.message["Subject"] == "サインイン用リンクのお知らせ"


async def test_implicit_tls(tls: SelfSignedTls) -> None:
    with start_smtp_server(tls=tls, implicit_tls=True) as server:
        sender = SmtpMailSender(
            server.mail_settings(), ssl_context=tls.client_context(), implicit_tls=True
        )
        await sender.send(_mail())
        [received] = server.received
    assert received.text.endswith(LINK + "\n")


async def test_wrong_password_fails_without_leaking_it(
    mail_log: OurLog,
) -> None:
    with start_smtp_server(users={"optin": "the-right-one"}) as server:
        settings = server.mail_settings(smtp_user="optin", smtp_password=PASSWORD)
        with pytest.raises(MailDeliveryFailed) as caught:
            await SmtpMailSender(settings).send(_mail())
        assert server.received == []
    error = caught.value
    assert error.code == "mail-failed"
    assert error.status == 502
    assert "refused the login" in error.detail
    assert error.__cause__ is None
    assert error.__suppress_context__
    _assert_no_secrets(str(error), repr(error), repr(error.extra), mail_log.text)


async def test_refused_connection_fails_cleanly(mail_log: OurLog) -> None:
    port = _closed_port()
    settings = MailSettings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_user="optin", smtp_password=PASSWORD
    )
    with pytest.raises(MailDeliveryFailed) as caught:
        await SmtpMailSender(settings, timeout=5).send(_mail())
    assert "refused the connection" in caught.value.detail
    _assert_no_secrets(str(caught.value), repr(caught.value), mail_log.text)
    assert f"127.0.0.1:{port}" in mail_log.text  # the operator learns where it failed


async def test_silent_server_times_out(mail_log: OurLog) -> None:
    # A socket that listens but never greets: the kernel accepts, nobody answers.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = MailSettings(smtp_host="127.0.0.1", smtp_port=silent.getsockname()[1])
        with pytest.raises(MailDeliveryFailed) as caught:
            await SmtpMailSender(settings, timeout=0.5).send(_mail())
    assert "did not answer in time" in caught.value.detail
    _assert_no_secrets(mail_log.text)


async def test_starttls_required_but_not_offered_never_falls_back(
    smtp_server: SmtpServer,
) -> None:
    settings = smtp_server.mail_settings(smtp_starttls=True)
    with pytest.raises(MailDeliveryFailed) as caught:
        await SmtpMailSender(settings).send(_mail())
    assert "does not offer STARTTLS" in caught.value.detail
    assert smtp_server.received == []


async def test_untrusted_certificate_stops_before_login(
    tls: SelfSignedTls, mail_log: OurLog
) -> None:
    with start_smtp_server(users={"optin": PASSWORD}, tls=tls) as server:
        settings = server.mail_settings(
            smtp_user="optin", smtp_password=PASSWORD, smtp_starttls=True
        )
        # The default context trusts the system CAs only, not the self-signed test certificate.
        with pytest.raises(MailDeliveryFailed) as caught:
            await SmtpMailSender(settings).send(_mail())
        assert server.received == []
    assert "TLS handshake" in caught.value.detail
    _assert_no_secrets(str(caught.value), mail_log.text)


async def test_refused_recipient_does_not_echo_the_reply(
    smtp_server: SmtpServer, mail_log: OurLog
) -> None:
    smtp_server.refuse_recipients.add(RECIPIENT)
    with pytest.raises(MailDeliveryFailed) as caught:
        await SmtpMailSender(smtp_server.mail_settings()).send(_mail())
    assert "refused the recipient" in caught.value.detail
    _assert_no_secrets(str(caught.value), mail_log.text)


def test_settings_that_would_leak_the_password_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="clear text") as caught:
        SmtpMailSender(
            MailSettings(smtp_host="smtp.example.com", smtp_user="optin", smtp_password=PASSWORD)
        )
    assert PASSWORD not in str(caught.value)
    # Encrypted either way: accepted.
    SmtpMailSender(
        MailSettings(
            smtp_host="smtp.example.com",
            smtp_user="optin",
            smtp_password=PASSWORD,
            smtp_starttls=True,
        )
    )
    SmtpMailSender(
        MailSettings(
            smtp_host="smtp.example.com", smtp_port=465, smtp_user="optin", smtp_password=PASSWORD
        )
    )


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        (MailSettings(), "OPTIN_SMTP_HOST"),
        (MailSettings(smtp_host="127.0.0.1", smtp_user="optin"), "OPTIN_SMTP_PASSWORD"),
        (
            MailSettings(smtp_host="127.0.0.1", smtp_user="optin", smtp_password="パスワード"),
            "ASCII",
        ),
    ],
)
def test_incomplete_settings_are_refused(settings: MailSettings, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as caught:
        SmtpMailSender(settings)
    assert "パスワード" not in str(caught.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "hello\r\nBcc: victim@example.com"},
        {"to": "guest@example.jp\nBcc: victim@example.com"},
        {"to": "a@example.com, b@example.com"},
        {"to": "not-an-address"},
    ],
)
def test_header_injection_and_several_recipients_are_refused(
    overrides: dict[str, str],
) -> None:
    with pytest.raises(InvalidInput):
        _mail(**overrides)


def test_repr_hides_the_body() -> None:
    mail = _mail(html=f'<a href="{LINK}">x</a>')
    assert LINK not in repr(mail)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
