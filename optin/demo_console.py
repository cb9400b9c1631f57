"""The demo's operator console: two accounts and one request waiting in the inbox.

DEMO ONLY. The accounts get fresh random passwords, and those and their TOTP secrets are
printed, so the console can be tried straight away. Real accounts are made with
``optin operator create`` (password typed twice, secret shown once), and nothing about them is
ever printed again.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Final

from sqlalchemy import select

from optin.db.engine import create_engine, session_factory
from optin.db.enums import OperatorRole, RequestKind, SubjectStatus
from optin.db.models import Subject
from optin.demo_checks import DemoChecks
from optin.runtime import Prepared
from optin.services.audit import Actor
from optin.services.operator_access import DEFAULT_HOURS, DEFAULT_NETWORKS
from optin.services.operators import create_operator
from optin.services.privacy_requests import file_request

Echo = Callable[[str], None]

ACCOUNTS: Final = (
    ("demo-admin", OperatorRole.ADMINISTRATOR),
    ("demo-officer", OperatorRole.PRIVACY_OFFICER),
)


def run_console_story(prepared: Prepared, echo: Echo, base_url: str, checks: DemoChecks) -> None:
    asyncio.run(_story(prepared, echo, base_url, checks))


async def _story(prepared: Prepared, echo: Echo, base_url: str, checks: DemoChecks) -> None:
    settings = prepared.settings
    echo("\n9. The operator console: demo accounts (a demo prints secrets; nothing else does)")
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            printed: dict[str, tuple[str, str]] = {}
            for username, role in ACCOUNTS:
                password = secrets.token_urlsafe(12)
                created = await create_operator(
                    session,
                    prepared.keys.master,
                    username=username,
                    password=password,
                    role=role,
                    venue_id=None,
                    networks=DEFAULT_NETWORKS,
                    hours=DEFAULT_HOURS,
                    actor=Actor.system(),
                )
                printed[username] = (password, created.totp_secret)
            person = await session.scalar(
                select(Subject)
                .where(Subject.status == SubjectStatus.ACTIVE)
                .order_by(Subject.created_at)
                .limit(1)
            )
            if person is not None:
                await file_request(
                    session,
                    person.id,
                    RequestKind.ACCESS,
                    "Please send me a copy of everything you hold about me.",
                    settings.console,
                )
    finally:
        await engine.dispose()
    checks.expect("demo console accounts created", len(printed) == len(ACCOUNTS))
    for username, role in ACCOUNTS:
        password, secret = printed[username]
        echo(f"   {username:<13} {role:<16} password {password}  TOTP secret {secret}")
    echo(f"   Sign in at {base_url}/console with the user name, the password and the code")
    echo("   an authenticator app (or `oathtool --totp -b SECRET`) makes from the secret.")
    if person is not None:
        echo("   An access request from an enrolled visitor is waiting in the privacy inbox.")
