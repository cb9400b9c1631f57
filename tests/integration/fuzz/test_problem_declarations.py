"""The served OpenAPI document declares problem answers by rule, and only where they can happen.

The fuzz test (test_api_schema.py) checks the answers against these declarations; this one
checks the declarations themselves, so a rule that declared everything everywhere would fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from enrollment_app.asgi import create_app
from enrollment_app.openapi_problems import SPECIFIC
from enrollment_app.problems import PROBLEM_JSON
from optin.config import Settings

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture
def schema(tmp_path: Path) -> dict[str, Any]:
    """The document ``/api/docs/openapi.json`` serves (built without starting the app)."""
    settings = Settings.from_env({"OPTIN_DATA_DIR": str(tmp_path)})
    document: dict[str, Any] = create_app(settings).openapi_schema.to_schema()
    return document


def responses(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["paths"][path][method.lower()]["responses"]
    return found


def problems(schema: dict[str, Any], method: str, path: str) -> set[int]:
    """The statuses the operation declares as problem details."""
    return {
        int(status)
        for status, answer in responses(schema, method, path).items()
        if PROBLEM_JSON in answer.get("content", {})
    }


def test_every_specific_entry_names_an_operation(schema: dict[str, Any]) -> None:
    declared = {(m.upper(), p) for p, item in schema["paths"].items() for m in item}
    assert set(SPECIFIC) <= declared, set(SPECIFIC) - declared


def test_problem_answers_follow_the_route(schema: dict[str, Any]) -> None:
    # Nothing to refuse: no input, no credential, no database.
    assert problems(schema, "GET", "/healthz") == set()
    # Public read of the database: only its unavailability.
    assert problems(schema, "GET", "/api/v1/venues") == {503}
    # Console, by path: input, missing thing, credential, right, database.
    assert problems(schema, "POST", "/api/v1/console/operators/{operator_id}/disable") == {
        400,
        401,
        403,
        404,
        503,
    }
    # Portal read: signed in, but no CSRF check (403) on a read.
    assert problems(schema, "GET", "/api/v1/portal/me") == {401, 503}
    # A body naming venues may name an unknown one (422); sign-in asks no prior credential.
    assert problems(schema, "POST", "/api/v1/portal/withdraw") >= {400, 404, 422}
    assert 403 not in problems(schema, "POST", "/api/v1/portal/sign-in")
    assert {401, 429} <= problems(schema, "POST", "/api/v1/portal/sign-in")


def test_problems_are_rfc9457_and_rate_limits_say_when(schema: dict[str, Any]) -> None:
    problem = schema["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    bad_request = responses(schema, "POST", "/api/v1/portal/sign-in")["400"]
    # Litestar's own 400 schema (application/json) is replaced: the app never sends it.
    assert set(bad_request["content"]) == {PROBLEM_JSON}
    assert bad_request["content"][PROBLEM_JSON]["schema"] == {"$ref": PROBLEM_REF}
    limited = responses(schema, "POST", "/api/v1/enrollments")["429"]
    assert limited["headers"]["Retry-After"]["required"] is True


def test_metrics_are_declared_as_prometheus_text(schema: dict[str, Any]) -> None:
    ok = responses(schema, "GET", "/metrics")["200"]
    assert list(ok["content"]) == ["text/plain"]
    assert problems(schema, "GET", "/metrics") == {401, 503}
