"""The problem answers of every API operation, declared in the OpenAPI schema in one place.

Handlers declare only their success answer; what they can refuse with follows from the route:
input (parameters or a body) can be malformed (400); a path, or a body's ``..._id``, names
something that may not exist (404), and a body's ``venue(s)`` a venue that does not (422); the
gate, portal and console APIs need a credential (401) and a right (403); whatever uses the
request's database session answers 503 (Retry-After) while the database is unreachable. What no
rule can see (a conflict, a rate limit, a lock-out) is listed per operation in ``SPECIFIC``; a
test fails when an entry there names no route, so the list cannot rot. All of these answers are
RFC 9457 problem details (``application/problem+json``, see ``enrollment_app/problems.py``); the
``Problem`` component replaces Litestar's own 400 schema, which the app never sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Final

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    OpenAPI,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    PathItem,
    Reference,
    RequestBody,
    Schema,
)
from litestar.routes import HTTPRoute

from enrollment_app.problems import PROBLEM_JSON

PROBLEM_SCHEMA: Final = Schema(
    type=OpenAPIType.OBJECT,
    description="RFC 9457 problem details; `code` repeats the end of `type` for clients.",
    required=["type", "title", "status", "detail", "code"],
    properties={
        "type": Schema(type=OpenAPIType.STRING),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER, minimum=400, maximum=599),
        "detail": Schema(type=OpenAPIType.STRING),
        "code": Schema(type=OpenAPIType.STRING),
        "instance": Schema(type=OpenAPIType.STRING),
        "lang": Schema(type=OpenAPIType.STRING),
        "note": Schema(type=OpenAPIType.STRING),
        "retry_after": Schema(type=OpenAPIType.INTEGER, minimum=0),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            description="The fields that failed validation (never their values).",
            items=Schema(type=OpenAPIType.OBJECT),
        ),
    },
)

#: Answers that say when to come back: required where every such answer carries it (a rate
#: limit); a lock-out replayed later, or a readiness probe, may not know when.
RETRY_AFTER_REQUIRED: Final = frozenset({429})
RETRY_AFTER_OPTIONAL: Final = frozenset({423, 503})

#: Body fields that name venues: an unknown one is refused as ``unknown-venue`` (422).
VENUE_FIELDS: Final = frozenset({"venue", "venues"})

#: Dependencies that reach the database (directly, or through the console session); the few
#: handlers that open their own session are in ``SPECIFIC``.
DATABASE_DEPENDENCIES: Final = frozenset({"db_session", "console"})

#: Credential and right by API prefix: (statuses for reads, statuses for changes).
AUDIENCES: Final[Mapping[str, tuple[frozenset[int], frozenset[int]]]] = {
    # Bearer token of a gate; a revoked gate or a venue whose notice is too new is refused.
    "/api/v1/agent/": (frozenset({401, 403}), frozenset({401, 403})),
    # Session cookie; changes also need the CSRF token (403 without it).
    "/api/v1/portal/": (frozenset({401}), frozenset({401, 403})),
    # Session cookie, CSRF token on changes, and a role that holds the permission.
    "/api/v1/console/": (frozenset({401, 403}), frozenset({401, 403})),
}
#: Where the credential is made, not asked for: the rule above does not apply.
SIGN_INS: Final = frozenset(
    {("POST", "/api/v1/portal/sign-in"), ("POST", "/api/v1/console/sign-in")}
)

#: What no rule can see, by operation.
SPECIFIC: Final[Mapping[tuple[str, str], frozenset[int]]] = {
    # Wrong code or token (401), too many tries from this address (429).
    ("POST", "/api/v1/portal/sign-in"): frozenset({401, 429}),
    # Wrong credentials (401), network or hours not allowed (403), locked (423), rate (429).
    ("POST", "/api/v1/console/sign-in"): frozenset({401, 403, 423, 429}),
    # Already enrolled (409), too large (413), image, liveness or consent refused (422), rate.
    ("POST", "/api/v1/enrollments"): frozenset({409, 413, 422, 429}),
    # Consent, method or PIN missing (403), same key other charge (409), wrong PIN or provider
    # refusal (422), PIN locked (423), PIN needed (428), provider down (503).
    ("POST", "/api/v1/agent/charges"): frozenset({409, 422, 423, 428}),
    # The payment provider refuses the card token (422).
    ("POST", "/api/v1/portal/payment-method"): frozenset({422}),
    # Not refundable or changed meanwhile (409), the provider refuses (422).
    ("POST", "/api/v1/console/venues/{slug}/charges/{charge_id}/refund"): frozenset({409, 422}),
    # Not an image, or not a usable one (422), too large (413).
    ("POST", "/api/v1/liveness/hints"): frozenset({413, 422}),
    # Nothing (left) to withdraw or remove.
    ("POST", "/api/v1/portal/withdraw"): frozenset({404}),
    ("DELETE", "/api/v1/portal/payment-method"): frozenset({404}),
    ("POST", "/api/v1/portal/payment-method/remove"): frozenset({404}),
    # A used or expired registration code (410).
    ("POST", "/api/v1/console/devices/register"): frozenset({410}),
    # Both open their own database session: no token (401); database down or not migrated.
    ("GET", "/metrics"): frozenset({401, 503}),
    ("GET", "/readyz"): frozenset({503}),
}


def declare_problem_responses(app: Litestar) -> None:
    """Add the ``Problem`` component and each operation's problem answers to the app's schema."""
    openapi = app.openapi_schema
    schemas = openapi.components.schemas
    schemas["Problem"] = PROBLEM_SCHEMA
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        path_item = openapi.paths.get(route.path_format) if openapi.paths else None
        if not isinstance(path_item, PathItem):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                continue
            for method in handler.http_methods:
                operation = getattr(path_item, method.lower(), None)
                if not isinstance(operation, Operation):
                    continue
                statuses = problem_statuses(openapi, method, route, handler, operation)
                responses = operation.responses if operation.responses is not None else {}
                for status in sorted(statuses):
                    responses[str(status)] = problem_response_spec(status)
                operation.responses = responses


def problem_statuses(
    openapi: OpenAPI,
    method: str,
    route: HTTPRoute,
    handler: HTTPRouteHandler,
    operation: Operation,
) -> set[int]:
    """The problem answers the rules find for one operation."""
    path = route.path_format
    statuses = set(SPECIFIC.get((method, path), ()))
    if operation.parameters or operation.request_body:
        statuses.add(400)
    fields = _body_fields(openapi, operation)
    if route.path_parameters or any(name.endswith("_id") for name in fields):
        statuses.add(404)
    if fields & VENUE_FIELDS:
        statuses.add(422)
    if (method, path) not in SIGN_INS:
        for prefix, (reads, changes) in AUDIENCES.items():
            if path.startswith(prefix):
                statuses |= reads if method in {"GET", "HEAD"} else changes
    if _needs(handler) & DATABASE_DEPENDENCIES:
        statuses.add(503)
    return statuses


def _needs(handler: HTTPRouteHandler) -> set[str]:
    """The parameters the handler asks for, and those its dependencies ask for, transitively
    (every handler could resolve the app-wide dependencies; only these are used)."""
    providers = handler.resolve_dependencies()
    needed: set[str] = set()
    pending = list(handler.parsed_fn_signature.parameters)
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        needed.add(name)
        if name in providers:
            pending.extend(providers[name].parsed_fn_signature.parameters)
    return needed


def _body_fields(openapi: OpenAPI, operation: Operation) -> set[str]:
    """The top-level field names of the operation's JSON body (none without one)."""
    body = operation.request_body
    media = body.content.get("application/json") if isinstance(body, RequestBody) else None
    schema = media.schema if media is not None else None
    if isinstance(schema, Reference):
        schema = openapi.components.schemas.get(schema.ref.rsplit("/", 1)[-1])
    properties = schema.properties if isinstance(schema, Schema) else None
    return set(properties or {})


def problem_response_spec(status: int) -> OpenAPIResponse:
    headers: dict[str, OpenAPIHeader | Reference] = {}
    if status in RETRY_AFTER_REQUIRED | RETRY_AFTER_OPTIONAL:
        headers["Retry-After"] = OpenAPIHeader(
            description="Seconds until a retry can succeed.",
            required=status in RETRY_AFTER_REQUIRED,
            schema=Schema(type=OpenAPIType.STRING, pattern="^[0-9]+$"),
        )
    return OpenAPIResponse(
        description=HTTPStatus(status).phrase,
        content={
            PROBLEM_JSON: OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
        },
        headers=headers or None,
    )


__all__ = ["SPECIFIC", "declare_problem_responses"]
