"""Portal sign-in links: issued at enrollment (and later on request), mailed, usable once."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from optin.config import Settings
from optin.db.enums import Language
from optin.mail import MailSender
from optin.mail.compose import sign_in_link_mail

SIGN_IN_PATH: Final = "/portal/sign-in"
SIGN_IN_PREFIX: Final = "optin_signin"
SIGN_IN_TTL: Final = timedelta(hours=24)


def sign_in_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}{SIGN_IN_PATH}?token={token}"


async def send_sign_in_link(
    mailer: MailSender, settings: Settings, email: str, locale: Language, token: str
) -> None:
    await mailer.send(
        sign_in_link_mail(
            email,
            sign_in_url(settings, token),
            str(locale),
            settings.operator,
            valid_minutes=int(SIGN_IN_TTL.total_seconds() // 60),
        )
    )
