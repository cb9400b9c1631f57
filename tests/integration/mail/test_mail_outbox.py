"""OutboxMailSender: private .eml files that parse back as the mail sent; choosing a sender."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from optin.config import Settings
from optin.errors import ConfigurationError
from optin.mail import (
    MailSender,
    MemoryMailSender,
    OutboxMailSender,
    OutgoingMail,
    SmtpMailSender,
    mail_sender_from_settings,
    read_mail,
    read_outbox,
)

LINK = "https://optin.example/portal/sign-in?token=sil_" + "x" * 43
SENDER = "optin <no-reply@optin.example>"


def _mail(**overrides: object) -> OutgoingMail:
    values: dict[str, object] = {
        "to": "guest@example.jp",
        "subject": "サインイン用リンクのお知らせ",
        "text": f"ご利用ありがとうございます。\n{LINK}\n",
        "html": f'<p><a href="{LINK}">サインイン</a></p>',
        "kind": "sign-in-link",
    }
    values.update(overrides)
    return OutgoingMail(**values)  # type: ignore[arg-type]


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: modes must not depend on the caller's umask."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
async def test_outbox_files_are_private_and_parse_back(tmp_path: Path) -> None:
    outbox = tmp_path / "data" / "outbox"
    sender = OutboxMailSender(outbox, sender=SENDER)
    mail = _mail()

    path = await sender.write(mail)

    assert path.parent == outbox
    assert _mode(outbox) == 0o700
    assert _mode(path) == 0o600
    assert path.suffix == ".eml"
    assert "sign-in-link" in path.name
    assert "guest" not in path.name  # no recipient in file names

    message = read_mail(path)
    assert message["To"] == mail.to
    assert message["From"] == SENDER
    assert message["Subject"] == mail.subject
    assert message["Message-ID"].endswith("@optin.example>")
    assert message["Date"] is not None
    assert message["X-Optin-Kind"] == "sign-in-link"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().replace("\r\n", "\n") == mail.text  # type: ignore[attr-defined]
    html_body = html.get_content()  # type: ignore[attr-defined]
    assert html_body.replace("\r\n", "\n") == f"{mail.html}\n"


async def test_read_outbox_returns_mails_oldest_first(tmp_path: Path) -> None:
    sender = OutboxMailSender(tmp_path / "outbox")
    assert read_outbox(tmp_path / "outbox") == []
    for n in range(3):
        await sender.send(_mail(subject=f"mail {n}", html=None))
    assert [m["Subject"] for m in read_outbox(tmp_path / "outbox")] == [
        "mail 0",
        "mail 1",
        "mail 2",
    ]


async def test_outbox_open_to_others_is_refused(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    outbox.chmod(0o755)
    with pytest.raises(ConfigurationError, match="chmod 700"):
        await OutboxMailSender(outbox).send(_mail())
    assert list(outbox.iterdir()) == []


async def test_outbox_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outbox").write_text("")
    with pytest.raises(ConfigurationError, match="not a directory"):
        await OutboxMailSender(tmp_path / "outbox").send(_mail())


async def test_odd_kinds_make_safe_file_names(tmp_path: Path) -> None:
    path = await OutboxMailSender(tmp_path / "outbox").write(_mail(kind="../../etc/passwd"))
    assert path.parent == tmp_path / "outbox"
    assert "/" not in path.name.removesuffix(".eml")


def test_sender_from_settings(tmp_path: Path) -> None:
    outbox_settings = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path)})
    outbox = mail_sender_from_settings(outbox_settings)
    assert isinstance(outbox, OutboxMailSender)
    assert outbox.directory == tmp_path / "outbox"

    smtp_settings = Settings.from_env(
        {"OPTIN_DATA_DIR": str(tmp_path), "OPTIN_SMTP_HOST": "127.0.0.1", "OPTIN_SMTP_PORT": "2525"}
    )
    smtp = mail_sender_from_settings(smtp_settings)
    assert isinstance(smtp, SmtpMailSender)
    assert smtp.settings.smtp_port == 2525

    for sender in (outbox, smtp, MemoryMailSender()):
        assert isinstance(sender, MailSender)


async def test_memory_sender_keeps_mails_by_kind() -> None:
    sender = MemoryMailSender()
    await sender.send(_mail())
    await sender.send(_mail(kind="receipt"))
    assert [m.kind for m in sender.of_kind("sign-in-link")] == ["sign-in-link"]
    assert len(sender.sent) == 2
