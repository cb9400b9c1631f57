"""Prometheus metrics and request logs for the app.

``GET /metrics`` serves the Prometheus text format. Nothing in it is about a person: requests
are labelled by method, route *template* (``/api/v1/portal/{id}``, never the raw path) and
status; the rest are plain counts. Volumes still say something about a venue's business, so
``OPTIN_METRICS_TOKEN`` makes the endpoint ask for ``Authorization: Bearer <token>``.

Counters live in the process. Under ``optin serve --workers N`` each worker counts its own
requests and a scrape reaches whichever worker accepts it, so the HTTP counters are per worker
(run one worker, or one scrape target per worker, where exact request counts matter); the
database-derived gauges (charges by status, audit entries) are the same from every worker.

The request middleware gives each request an id (``X-Request-ID``: an incoming one is kept
only if it is a short safe token) and logs one line per request with the route template,
status and duration: never the query string, body, cookies or headers.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from typing import Any, Final

from litestar import Controller, MediaType, Request, Response, get
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import func, select

from enrollment_app.state import Services
from optin.db.models.audit import AuditEntry
from optin.db.models.payments import Charge
from optin.logs import request_id_var

log = logging.getLogger("optin.request")

REGISTRY: Final = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

HTTP_REQUESTS: Final = Counter(
    "optin_http_requests",
    "HTTP requests by method, route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY: Final = Histogram(
    "optin_http_request_duration_seconds",
    "Time to answer a request, by route template (long-polls included)",
    ["route"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HTTP_IN_PROGRESS: Final = Gauge(
    "optin_http_requests_in_progress",
    "Requests being answered, by route template",
    ["route"],
    registry=REGISTRY,
)
GALLERY_ENTRIES_SERVED: Final = Counter(
    "optin_gallery_entries_served",
    "Gallery entries (sealed templates and removals) sent to gates",
    registry=REGISTRY,
)
GALLERY_LONG_POLLS: Final = Gauge(
    "optin_gallery_long_polls_open",
    "Gallery requests from gates being held open",
    registry=REGISTRY,
)
ENROLLMENTS: Final = Counter(
    "optin_enrollments",
    "Enrollment submissions by outcome (enrolled, refused: 4xx, failed: 5xx)",
    ["outcome"],
    registry=REGISTRY,
)
CHARGES: Final = Gauge(
    "optin_charges",
    "Charges in the database by status",
    ["status"],
    registry=REGISTRY,
)
AUDIT_ENTRIES: Final = Gauge(
    "optin_audit_entries",
    "Entries in the audit log (appended so far; rate() gives appends per second)",
    registry=REGISTRY,
)

#: Enrollment submissions, counted by outcome from their status.
ENROLLMENT_ROUTES: Final = frozenset({("POST", "/api/v1/enrollments")})

#: An incoming X-Request-ID is kept only if it looks like this; otherwise a new one is made.
_SAFE_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._-]{8,64}")
_UNMATCHED: Final = "unmatched"


def request_id_from(headers: list[tuple[bytes, bytes]] | Any) -> str:
    for name, value in headers:
        if name.lower() == b"x-request-id":
            try:
                candidate = value.decode("ascii")
            except UnicodeDecodeError:
                break
            if _SAFE_REQUEST_ID.fullmatch(candidate) and not candidate.startswith("optin_"):
                return candidate
            break
    return uuid.uuid4().hex


class RequestObserver(ASGIMiddleware):
    """Request id, request log line and HTTP metrics for every routed request."""

    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        request_id = request_id_from(scope.get("headers", []))
        route = scope.get("path_template") or _UNMATCHED
        method = scope.get("method", "GET")
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableScopeHeaders.from_message(message)["X-Request-ID"] = request_id
            await send(message)

        in_progress = HTTP_IN_PROGRESS.labels(route)
        in_progress.inc()
        try:
            await next_app(scope, receive, send_with_id)
        finally:
            in_progress.dec()
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(route).observe(elapsed)
            if (method, route) in ENROLLMENT_ROUTES:
                outcome = "enrolled" if status < 400 else "refused" if status < 500 else "failed"
                ENROLLMENTS.labels(outcome).inc()
            log.log(
                logging.WARNING if status >= 500 else logging.INFO,
                "request",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                },
            )
            request_id_var.reset(token)


class MetricsController(Controller):
    tags = ["health"]  # noqa: RUF012 - Litestar declares it as a plain attribute

    @get(
        "/metrics",
        summary="Prometheus metrics (no personal data)",
        description="With OPTIN_METRICS_TOKEN set, asks for `Authorization: Bearer <token>`.",
        include_in_schema=True,
        # Prometheus text, not JSON: the schema says so (the return type is the body's type).
        media_type=MediaType.TEXT,
        response_description="Prometheus text exposition format",
    )
    async def metrics(self, request: Request[Any, Any, Any], services: Services) -> Response[bytes]:
        expected = services.settings.metrics_token
        if expected:
            given = request.headers.get("authorization", "")
            scheme, _, credential = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                credential.strip().encode(), expected.encode()
            ):
                # A problem (application/problem+json) from the one error handler.
                raise NotAuthorizedException(
                    "metrics need the bearer token",
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        async with services.sessions() as session:
            charges = (
                await session.execute(select(Charge.status, func.count()).group_by(Charge.status))
            ).all()
            audit_count = select(func.count()).select_from(AuditEntry)
            audit = (await session.execute(audit_count)).scalar_one()
        CHARGES.clear()
        for status, count in charges:
            CHARGES.labels(str(getattr(status, "value", status))).set(count)
        AUDIT_ENTRIES.set(audit)
        return Response(
            generate_latest(REGISTRY),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": "no-store"},
        )
