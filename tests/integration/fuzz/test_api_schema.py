"""Schemathesis over the whole OpenAPI schema of a served app: every answer as documented.

The app runs for real (``optin serve``) on a world with venues, notices and one enrolled person;
requests carry what each part of the API needs: a gate's bearer token for ``/api/v1/agent``, a
signed-in portal session (cookie + X-CSRF-Token) for ``/api/v1/portal`` and an administrator's
console session for ``/api/v1/console``. Every answer is checked in full: no 5xx, a documented
status and content type, a body matching its schema (problem details included) and the
documented headers. Bounded: a few examples per operation, no shrinking.

Operations that end a session run last, so they do not turn the rest into 401s: portal and
console sign-out after everything else, and the portal's delete on a second session of its own.
A check at the end fails if a signed-in part of the API only ever answered 401.

Multipart enrollment and frame hints are fuzzed like the rest: generated bodies never hold a real
face, so they exercise only the validation refusals (which must be 4xx problems, never a 500).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from optin.db.engine import create_engine, session_factory
from optin.db.enums import OperatorRole
from optin.services.gates import register_gate

from support.console_world import ConsoleWorld
from support.enrollment_world import EnrollmentWorld
from support.sandbox_provider import SandboxHandle
from support.served_app import served

pytestmark = [pytest.mark.slow]

MAX_EXAMPLES = 6
VENUE = "onsen-hotel"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
#: Run after everything else, in this order; the delete on the spare portal session.
SESSION_ENDING = (
    "POST /api/v1/portal/sign-out",
    "POST /api/v1/console/sign-out",
    "POST /api/v1/portal/delete",
)
ON_SPARE_SESSION = "POST /api/v1/portal/delete"
SIGNED_IN_PREFIXES = ("/api/v1/portal/", "/api/v1/console/")


class Target:
    def __init__(self, base: str, gate_token: str) -> None:
        self.base = base
        self.gate_token = gate_token
        self.session = requests.Session()
        self.portal_csrf = ""
        self.console_csrf = ""
        # A second portal session of the same person, for the delete that ends them all.
        self.spare = requests.Session()
        self.spare_csrf = ""

    def headers_for(self, path: str) -> dict[str, str]:
        if path.startswith("/api/v1/agent"):
            return {"Authorization": f"Bearer {self.gate_token}"}
        if path.startswith("/api/v1/portal"):
            return {"X-CSRF-Token": self.portal_csrf}
        if path.startswith("/api/v1/console"):
            return {"X-CSRF-Token": self.console_csrf}
        return {}


@pytest.fixture
async def target(world: EnrollmentWorld, sandbox_provider: SandboxHandle) -> Any:
    enrolled = await world.enroll()
    console = ConsoleWorld(world)
    admin = await console.account(OperatorRole.ADMINISTRATOR, "fuzz-admin")
    engine = create_engine(world.settings.database_url)
    async with session_factory(engine)() as session:
        _, gate_token = await register_gate(session, world.keys.tokens, VENUE, "fuzz gate")
        await session.commit()
    await engine.dispose()
    env = {
        **world.env(),
        **sandbox_provider.env(),
        # The fuzzer submits far more than a tourist would: keep the limit out of its way.
        "OPTIN_ENROLL_PER_MINUTE": "100000",
    }
    with served(env) as base:
        found = Target(base, gate_token)
        found.portal_csrf = portal_sign_in(base, found.session, enrolled["recovery_code"])
        found.spare_csrf = portal_sign_in(base, found.spare, enrolled["recovery_code"])
        found.console_csrf = console_sign_in(
            base, found.session, admin.sign_in_body(), admin.device_cookies
        )
        yield found


def portal_sign_in(base: str, session: requests.Session, recovery_code: str) -> str:
    """Sign the enrolled person in on ``session``; its CSRF token."""
    signed = session.post(f"{base}/api/v1/portal/sign-in", json={"recovery_code": recovery_code})
    assert signed.status_code == 200, signed.text
    return str(session.cookies["optin_csrf"])


def console_sign_in(
    base: str, session: requests.Session, body: dict[str, str], device: dict[str, str]
) -> str:
    """An administrator's console session (from a registered device) on ``session``."""
    signed = httpx.post(f"{base}/api/v1/console/sign-in", json=body, cookies=device)
    assert signed.status_code == 200, signed.text
    session.cookies.set("optin_console", signed.cookies["optin_console"])
    return str(signed.json()["csrf_token"])


def in_run_order(operations: list[Any]) -> list[Any]:
    """Everything else first, then the session-ending operations in ``SESSION_ENDING`` order."""

    def rank(operation: Any) -> int:
        name = f"{operation.method.upper()} {operation.path}"
        return SESSION_ENDING.index(name) + 1 if name in SESSION_ENDING else 0

    return sorted(operations, key=rank)


def fuzz(target: Target) -> tuple[list[str], dict[str, set[int]]]:
    """Every operation, a few generated examples each: the failures (one line per operation)
    and the statuses each operation answered."""
    schema = schemathesis.openapi.from_url(f"{target.base}/api/docs/openapi.json")
    failures = []
    seen: dict[str, set[int]] = defaultdict(set)
    for operation in in_run_order([result.ok() for result in schema.get_all_operations()]):
        name = f"{operation.method.upper()} {operation.path}"
        try:
            fuzz_operation(target, operation, seen[name], spare=name == ON_SPARE_SESSION)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together
            failures.append(f"{name}: {exc}")
    return failures, seen


def with_known_venue(cases: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Half the cases of a ``{slug}`` path name the world's venue, so the answers past the
    lookup (and their schemas) are checked too, not only the 404 of a random slug."""

    def name(case: Any, known: bool) -> Any:
        if known and "slug" in (case.path_parameters or {}):
            case.path_parameters["slug"] = VENUE
        return case

    return st.tuples(cases, st.booleans()).map(lambda pair: name(*pair))


def fuzz_operation(target: Target, operation: Any, statuses: set[int], *, spare: bool) -> None:
    """Generated examples of one operation, each answer checked in full; ``statuses`` collects
    the answers' statuses. ``spare`` runs it on the spare portal session."""
    session = target.spare if spare else target.session

    @given(case=with_known_venue(operation.as_strategy()))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Any) -> None:
        headers = target.headers_for(case.path)
        if spare:
            headers["X-CSRF-Token"] = target.spare_csrf
        response = case.call(session=session, headers=headers, timeout=30)
        statuses.add(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()


async def test_api_conforms_to_its_schema(target: Target) -> None:
    failures, seen = fuzz(target)
    assert not failures, "\n\n".join(failures)
    # The sessions lasted: every signed-in operation got past the sign-in check at least once.
    only_refused = sorted(
        name
        for name, statuses in seen.items()
        if name.split(" ")[1].startswith(SIGNED_IN_PREFIXES) and statuses <= {401}
    )
    assert not only_refused, only_refused
