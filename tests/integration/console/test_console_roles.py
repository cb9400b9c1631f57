"""Least privilege: every role tries every console endpoint it must not use → 403, audited."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from enrollment_app.asgi import create_app
from optin.db.engine import create_engine, session_factory
from optin.db.enums import OperatorRole
from optin.db.models import AuditEntry
from optin.db.models import Operator as OperatorModel
from optin.services.gates import register_gate
from optin.services.roles import ROLE_PERMISSIONS, VENUE_SCOPED, Permission

from support.console_world import ConsoleWorld

P = Permission
SUBJECT = str(uuid.uuid4())
REQUEST = str(uuid.uuid4())
OPERATOR = str(uuid.uuid4())
SESSION = str(uuid.uuid4())
CHARGE = str(uuid.uuid4())
RECIPIENT = str(uuid.uuid4())
NEW_OPERATOR = {"username": "someone", "password": "x" * 16, "role": "auditor"}
REASON = {"reason": "checking the role rules"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    permission: Permission
    body: dict[str, Any] | None = None


def endpoints(venue: str, gate: str) -> list[Endpoint]:
    """Every console endpoint that needs a permission, with a body it would accept."""
    c = "/api/v1/console"
    return [
        Endpoint("GET", f"{c}/operators", P.MANAGE_OPERATORS),
        Endpoint("POST", f"{c}/operators", P.MANAGE_OPERATORS, NEW_OPERATOR),
        Endpoint(
            "PATCH",
            f"{c}/operators/{OPERATOR}/access",
            P.MANAGE_OPERATORS,
            {"networks": ["10.0.0.0/8"], "hours": ["daily 00:00-24:00"]},
        ),
        Endpoint("POST", f"{c}/operators/{OPERATOR}/disable", P.MANAGE_OPERATORS),
        Endpoint("POST", f"{c}/operators/{OPERATOR}/enable", P.MANAGE_OPERATORS),
        Endpoint("POST", f"{c}/operators/{OPERATOR}/unlock", P.MANAGE_OPERATORS),
        Endpoint("GET", f"{c}/operators/{OPERATOR}/devices", P.MANAGE_OPERATORS),
        Endpoint("POST", f"{c}/operators/{OPERATOR}/devices", P.MANAGE_OPERATORS, {"label": "PC"}),
        Endpoint("POST", f"{c}/venues", P.MANAGE_VENUES, {"slug": "new-venue", "name": "New"}),
        Endpoint("POST", f"{c}/venues/{venue}/rotate-key", P.MANAGE_KEYS),
        Endpoint("GET", f"{c}/venues/{venue}/gates", P.VIEW_GATES),
        Endpoint("POST", f"{c}/venues/{venue}/gates", P.MANAGE_VENUES, {"name": "Side door"}),
        Endpoint("POST", f"{c}/gates/{gate}/revoke", P.REVOKE_GATES),
        Endpoint("GET", f"{c}/venues/{venue}/events", P.VIEW_EVENTS),
        Endpoint("GET", f"{c}/venues/{venue}/products", P.MANAGE_VENUES),
        Endpoint(
            "POST", f"{c}/venues/{venue}/products", P.MANAGE_VENUES, {"code": "day", "name": "Day"}
        ),
        Endpoint("GET", f"{c}/notices", P.MANAGE_VENUES),
        Endpoint(
            "POST", f"{c}/notices", P.MANAGE_VENUES, {"venues": [venue], "purposes": ["entry"]}
        ),
        Endpoint(
            "POST", f"{c}/subjects/lookup", P.VIEW_SUBJECTS, {**REASON, "subject_id": SUBJECT}
        ),
        Endpoint("GET", f"{c}/subjects/{SUBJECT}?reason=checking", P.VIEW_SUBJECTS),
        Endpoint("POST", f"{c}/subjects/{SUBJECT}/export", P.EXPORT_SUBJECTS, REASON),
        Endpoint("POST", f"{c}/subjects/{SUBJECT}/withdraw", P.CHANGE_SUBJECTS, REASON),
        Endpoint("POST", f"{c}/subjects/{SUBJECT}/erase", P.CHANGE_SUBJECTS, REASON),
        Endpoint("GET", f"{c}/requests", P.HANDLE_REQUESTS),
        Endpoint(
            "POST",
            f"{c}/requests",
            P.HANDLE_REQUESTS,
            {
                "kind": "access",
                "channel": "phone",
                "details": "wants a copy",
                "identity_check": "called back on the number on file",
            },
        ),
        Endpoint("GET", f"{c}/requests/{REQUEST}", P.HANDLE_REQUESTS),
        Endpoint(
            "POST",
            f"{c}/requests/{REQUEST}/verify",
            P.HANDLE_REQUESTS,
            {"identity_check": "passport", "subject_id": SUBJECT},
        ),
        Endpoint("POST", f"{c}/requests/{REQUEST}/start", P.HANDLE_REQUESTS),
        Endpoint("POST", f"{c}/requests/{REQUEST}/response-package", P.EXPORT_SUBJECTS),
        Endpoint(
            "POST",
            f"{c}/requests/{REQUEST}/close",
            P.HANDLE_REQUESTS,
            {"status": "rejected", "outcome": "no"},
        ),
        Endpoint("GET", f"{c}/audit", P.READ_AUDIT),
        Endpoint("GET", f"{c}/audit/verify", P.READ_AUDIT),
        Endpoint("GET", f"{c}/sessions", P.VIEW_SESSIONS),
        Endpoint("POST", f"{c}/sessions/{SESSION}/end", P.MANAGE_OPERATORS),
        Endpoint("GET", f"{c}/venues/{venue}/payment-settings", P.MANAGE_VENUES),
        Endpoint(
            "PATCH", f"{c}/venues/{venue}/payment-settings", P.MANAGE_VENUES, {"currency": "JPY"}
        ),
        Endpoint("GET", f"{c}/venues/{venue}/charges", P.VIEW_CHARGES),
        Endpoint("POST", f"{c}/venues/{venue}/charges/{CHARGE}/refund", P.REFUND_CHARGES, REASON),
        Endpoint("GET", f"{c}/venues/{venue}/statistics?by=hour", P.VIEW_STATISTICS),
        Endpoint("GET", f"{c}/provision-recipients", P.MANAGE_RECIPIENTS),
        Endpoint(
            "POST",
            f"{c}/provision-recipients",
            P.MANAGE_RECIPIENTS,
            {"name": "Insurer", "purpose": "claims", "items": ["events"], "contact": "Tokyo"},
        ),
        Endpoint("POST", f"{c}/provision-recipients/{RECIPIENT}/retire", P.MANAGE_RECIPIENTS),
        Endpoint("GET", f"{c}/provisions", P.PROVIDE_DATA),
        Endpoint(
            "POST",
            f"{c}/subjects/{SUBJECT}/provisions",
            P.PROVIDE_DATA,
            {"recipient_id": RECIPIENT},
        ),
        Endpoint(
            "POST",
            f"{c}/subjects/{SUBJECT}/law-enforcement-release",
            P.RELEASE_TO_LAW_ENFORCEMENT,
            {
                "authority": "Shirahama police",
                "basis_reference": "Warrant 2026-1",
                "venue": venue,
                "from": "2026-01-01",
                "to": "2026-01-02",
            },
        ),
    ]


# Open to every signed-in operator, or scoped inside the handler (venue list).
UNGUARDED = {
    "/api/v1/console/sign-in",
    "/api/v1/console/sign-out",
    "/api/v1/console/me",
    "/api/v1/console/devices/register",  # spends a one-time code; no session yet
    "/api/v1/console/devices",  # everyone's own devices
}
SCOPED_IN_HANDLER = {
    ("GET", "/api/v1/console/venues"),
    # Your own device; anyone's with MANAGE_OPERATORS (test_console_devices.py).
    ("POST", "/api/v1/console/devices/{device_id:uuid}/revoke"),
}


def test_the_table_covers_every_console_endpoint(tmp_path: Any) -> None:
    from optin.config import Settings

    app = create_app(Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path)}))
    routes = {
        (method, route.path.rstrip("/"))
        for route in app.routes
        if route.path.startswith("/api/v1/console")
        for method in getattr(route, "methods", set())
        if method not in {"HEAD", "OPTIONS"}
    }
    templates = {(e.method, _template(e.path)) for e in endpoints("{slug:str}", "{gate_id:uuid}")}
    guarded = {r for r in routes if r[1] not in UNGUARDED and r not in SCOPED_IN_HANDLER}
    assert guarded == templates


def _template(path: str) -> str:
    path = path.split("?")[0].rstrip("/")
    for value, name in (
        (SUBJECT, "{subject_id:uuid}"),
        (REQUEST, "{request_id:uuid}"),
        (OPERATOR, "{operator_id:uuid}"),
        (SESSION, "{session_id:uuid}"),
        (CHARGE, "{charge_id:uuid}"),
        (RECIPIENT, "{recipient_id:uuid}"),
    ):
        path = path.replace(value, name)
    return path


async def _gate(console: ConsoleWorld, venue: str) -> str:
    engine = create_engine(console.world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            gate, _ = await register_gate(session, console.world.keys.tokens, venue, "Gate")
            await session.commit()
            return str(gate.id)
    finally:
        await engine.dispose()


async def _denials(console: ConsoleWorld) -> list[AuditEntry]:
    engine = create_engine(console.world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "console.denied")
            )
            return list(rows.all())
    finally:
        await engine.dispose()


@pytest.mark.parametrize("role", list(OperatorRole))
async def test_each_role_is_refused_and_audited_everywhere_it_does_not_belong(
    console: ConsoleWorld, role: OperatorRole
) -> None:
    own, other = "onsen-hotel", "adventure-park"
    venue = own if role == OperatorRole.VENUE_STAFF else None
    credentials = await console.account(role, venue=venue)
    granted = ROLE_PERMISSIONS[role]
    calls: list[Endpoint] = []
    for slug in (own, other):
        gate = await _gate(console, slug)
        for endpoint in endpoints(slug, gate):
            scoped_away = (
                role == OperatorRole.VENUE_STAFF
                and endpoint.permission in VENUE_SCOPED
                and slug != own
            )
            if endpoint.permission not in granted or scoped_away:
                calls.append(endpoint)
    async with console.signed_in(credentials) as operator:
        for endpoint in calls:
            response = await operator.client.request(
                endpoint.method,
                endpoint.path,
                json=endpoint.body,
                headers={"x-csrf-token": operator.csrf},
            )
            assert response.status_code == 403, (endpoint, response.text)
        me = (await operator.get("/api/v1/console/me")).json()
    denied = await _denials(console)
    assert len(denied) == len(calls)
    assert {e.actor_id for e in denied} <= {await _operator_id(console, credentials.username)}
    assert sorted(e.details["request"] for e in denied) == sorted(
        f"{e.method} {e.path.split('?')[0]}" for e in calls
    )
    assert me["role"] == str(role)


async def _operator_id(console: ConsoleWorld, username: str) -> str:
    engine = create_engine(console.world.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            found = await session.scalar(
                select(OperatorModel.id).where(OperatorModel.username == username)
            )
            return str(found)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("role", list(OperatorRole))
async def test_each_role_can_read_what_it_is_for(console: ConsoleWorld, role: OperatorRole) -> None:
    venue = "onsen-hotel" if role == OperatorRole.VENUE_STAFF else None
    credentials = await console.account(role, venue=venue)
    gate = await _gate(console, "onsen-hotel")
    reads = [
        e
        for e in endpoints("onsen-hotel", gate)
        if e.method == "GET"
        and e.permission in ROLE_PERMISSIONS[role]
        and "subjects" not in e.path
        and "requests/" not in e.path
    ]
    assert reads
    async with console.signed_in(credentials) as operator:
        for endpoint in reads:
            response = await operator.get(endpoint.path)
            assert response.status_code == 200, (endpoint, response.text)
    assert await _denials(console) == []
