"""The one interface services depend on, and an in-memory implementation for tests."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from optin.mail.message import OutgoingMail


@runtime_checkable
class MailSender(Protocol):
    async def send(self, message: OutgoingMail) -> None:
        """Hand the mail over for delivery; raise ``MailDeliveryFailed`` when that fails."""
        ...


class MemoryMailSender:
    """Keeps sent mails in ``sent`` (unit tests of services that send mail)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []

    async def send(self, message: OutgoingMail) -> None:
        self.sent.append(message)

    def of_kind(self, kind: str) -> list[OutgoingMail]:
        return [mail for mail in self.sent if mail.kind == kind]


__all__ = ["MailSender", "MemoryMailSender"]
