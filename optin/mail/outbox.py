"""Mail written to a private folder instead of being sent: the demo, and deployments without SMTP.

Treat the outbox as a secret store. Each file is a complete mail, and sign-in mails carry
one-time links: anyone who can read a file can sign in as its recipient until the link is used
or expires. Files are 0600 in a 0700 directory; a directory that group or others can access is
refused. Delete files once delivered by other means, and keep the outbox out of backups.

File names carry a UTC timestamp and the mail's ``kind``, never the recipient.
"""

from __future__ import annotations

import asyncio
import email
import secrets
import stat
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from optin.config import MailSettings
from optin.crypto.files import PRIVATE_DIR_MODE, create_private_file
from optin.errors import ConfigurationError
from optin.mail.message import POLICY, OutgoingMail, build_message

SUFFIX = ".eml"


class OutboxMailSender:
    """Writes every mail as ``<UTC time>-<kind>-<random>.eml``; sorting the names orders them."""

    def __init__(self, directory: Path, *, sender: str = MailSettings.sender) -> None:
        self._directory = directory
        self._sender = sender

    @property
    def directory(self) -> Path:
        return self._directory

    async def send(self, message: OutgoingMail) -> None:
        await self.write(message)

    async def write(self, message: OutgoingMail) -> Path:
        """``send`` that returns the new file's path (for the demo and tests)."""
        built = build_message(message, self._sender)
        return await asyncio.to_thread(self._write, built, message.kind)

    def _write(self, message: EmailMessage, kind: str) -> Path:
        _ensure_private_dir(self._directory)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        safe_kind = "".join(c if c.isalnum() or c == "-" else "_" for c in kind)[:40] or "mail"
        path = self._directory / f"{stamp}-{safe_kind}-{secrets.token_hex(4)}{SUFFIX}"
        data = message.as_bytes(policy=message.policy)
        # Written aside and linked into place: a reader never sees half a mail, and an
        # existing name (or a link someone planted there) is never written through.
        if not create_private_file(path, data):
            raise ConfigurationError(f"mail outbox file {path.name} exists already")
        return path


def read_outbox(directory: Path) -> list[EmailMessage]:
    """Every mail in the outbox, oldest first (for the demo and tests)."""
    if not directory.exists():
        return []
    return [read_mail(path) for path in sorted(directory.glob(f"*{SUFFIX}"))]


def read_mail(path: Path) -> EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), _class=EmailMessage, policy=POLICY)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _ensure_private_dir(directory: Path) -> None:
    try:
        directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    except FileExistsError:  # a file (or a dangling link) holds the name
        raise ConfigurationError(f"mail outbox {directory} is not a directory") from None
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigurationError(f"mail outbox {directory} is not a directory")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            f"mail outbox {directory} is accessible to group or others (mode {mode:04o}); its "
            f"mails hold one-time sign-in links: run `chmod 700 {directory}`"
        )


__all__ = ["SUFFIX", "OutboxMailSender", "read_mail", "read_outbox"]
