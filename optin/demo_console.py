"""The demo's operator console: two accounts and one request waiting in the inbox.

DEMO ONLY. The accounts get fresh random passwords, and those and their TOTP secrets are
printed, so the console can be tried straight away, with a one-time link per account that
registers the browser it is opened in as the account's device (sign-in works only from a
registered device). Real accounts are made with ``optin operator create`` (password typed twice,
secret and first link shown once), and nothing about them is ever printed again.

Before printing, the story proves the rule over HTTP on the running server: the administrator's
right password and code are refused from an unregistered browser and accepted from a registered
one (with the previous TOTP step, so the code an app shows now still works for the reader).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Final

import httpx
from sqlalchemy import select

from optin.crypto import totp
from optin.db.engine import create_engine, session_factory
from optin.db.enums import OperatorRole, RequestKind, SubjectStatus
from optin.db.models import Subject
from optin.demo_checks import DemoChecks
from optin.runtime import Prepared
from optin.services.audit import Actor
from optin.services.operator_access import DEFAULT_HOURS, DEFAULT_NETWORKS
from optin.services.operator_devices import issue_registration
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
            printed: dict[str, tuple[str, str, str]] = {}
            check_code = ""
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
                link = await issue_registration(
                    session, prepared.keys.tokens, created.operator, "demo browser", Actor.system()
                )
                printed[username] = (password, created.totp_secret, link.url(base_url))
                if role == OperatorRole.ADMINISTRATOR:
                    check = await issue_registration(
                        session,
                        prepared.keys.tokens,
                        created.operator,
                        "demo check",
                        Actor.system(),
                    )
                    check_code = check.code
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
    admin = ACCOUNTS[0][0]
    refused, accepted = await asyncio.to_thread(
        _sign_in_twice, base_url, admin, *printed[admin][:2], check_code
    )
    echo(f"   {admin} from an unregistered browser: {refused}; from a registered one: {accepted}")
    checks.expect(
        "console sign-in only from a registered device", (refused, accepted) == (403, 200)
    )
    for username, role in ACCOUNTS:
        password, secret, url = printed[username]
        echo(f"   {username:<13} {role:<16} password {password}  TOTP secret {secret}")
        echo(f"   {'':<13} register your browser first (works once, for an hour): {url}")
    echo(f"   Then sign in at {base_url}/console with the user name, the password and the code")
    echo("   an authenticator app (or `oathtool --totp -b SECRET`) makes from the secret.")
    if person is not None:
        echo("   An access request from an enrolled visitor is waiting in the privacy inbox.")


def _sign_in_twice(
    base_url: str, username: str, password: str, secret: str, registration_code: str
) -> tuple[int, int]:
    """The statuses of a sign-in without a device, then from a browser that registered one."""
    code = totp.code_at(secret, totp.step_of(time.time()) - 1)
    body = {"username": username, "password": password, "code": code}
    api = f"{base_url}/api/v1/console"
    with httpx.Client(timeout=30) as unregistered:
        refused = unregistered.post(f"{api}/sign-in", json=body).status_code
    with httpx.Client(timeout=30) as browser:
        browser.post(f"{api}/devices/register", json={"code": registration_code})
        accepted = browser.post(f"{api}/sign-in", json=body).status_code
    return refused, accepted
