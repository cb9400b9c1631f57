"""One mapping from errors to RFC 9457 problem details.

Domain errors (``OptinError``) carry their own status, code and title; framework HTTP errors keep
their status; a database that cannot be reached is a 503 with Retry-After (the client may try
again; nothing was changed), a value the database cannot store (a NUL in a text on PostgreSQL) a
400; anything unexpected becomes a bare 500 without internals, logged server-side with the
exception type only (a traceback could hold personal data from local variables).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from optin.errors import OptinError
from optin.i18n import describe_error, negotiate

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://optin.example/problems/"
#: Seconds a client should wait before retrying while the database is unreachable.
DATABASE_RETRY_AFTER = 5

log = logging.getLogger(__name__)


def problem_response(
    status: int, title: str, detail: str, code: str, **extra: Any
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        # The same slug as the end of ``type``, for clients that branch on it (gates, tills).
        "code": code,
        **extra,
    }
    response = Response(body, status_code=status, media_type=PROBLEM_JSON)
    retry_after = extra.get("retry_after")
    if isinstance(retry_after, int) and not isinstance(retry_after, bool):
        # A rate limit (429), a lock-out or an outage (503) says when to come back, in seconds.
        response.headers["Retry-After"] = str(retry_after)
    return response


def request_language(request: Request[Any, Any, Any]) -> str:
    """The language to answer in: the one the request chose, else its Accept-Language."""
    chosen = request.state.get("locale") or request.query_params.get("lang")
    return negotiate(request.headers.get("accept-language"), chosen)


def handle_domain_error(request: Request[Any, Any, Any], exc: OptinError) -> Response[Any]:
    """``detail`` is the plain message in the person's language; ``note`` the specific cause."""
    extra = {k: v for k, v in exc.extra.items() if _is_json_scalar(v)}
    lang = request_language(request)
    return problem_response(
        exc.status,
        exc.title,
        describe_error(exc, lang),
        exc.code,
        instance=request.url.path,
        lang=lang,
        note=exc.detail,
        **extra,
    )


def handle_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        # Litestar lists the offending fields; keep keys and messages, never echo the values.
        extra["errors"] = [
            {"key": item.get("key"), "message": item.get("message"), "source": item.get("source")}
            for item in exc.extra
            if isinstance(item, dict)
        ]
    title = _status_title(exc.status_code)
    response = problem_response(
        exc.status_code,
        title,
        exc.detail or title,
        _slug(title),
        instance=request.url.path,
        **extra,
    )
    if exc.headers:
        response.headers.update(exc.headers)
    return response


def handle_database_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A value the database refuses is the request's fault: 400. Unreachable (connect refused,
    which asyncpg raises as a plain ConnectionRefusedError; connection lost; pool exhausted;
    SQLite cannot open or is locked) or a transaction aborted to break a deadlock: 503, try
    again later. Anything else is a bug: 500."""
    if _bad_value(exc):
        return problem_response(
            400,
            "Bad Request",
            "a value in the request cannot be stored (control characters?)",
            "invalid-input",
            instance=request.url.path,
        )
    if not _database_unreachable(exc):
        return handle_unexpected(request, exc)
    log.warning("database unreachable (%s) on %s", type(exc).__name__, request.url.path)
    return problem_response(
        503,
        "Service Unavailable",
        "The database cannot be reached right now; nothing was changed. Try again shortly.",
        "database-unavailable",
        instance=request.url.path,
        retry_after=DATABASE_RETRY_AFTER,
    )


def _bad_value(exc: Exception) -> bool:
    """The database refused a value (SQLSTATE class 22, "data exception"): e.g. a NUL character
    in text on PostgreSQL, which the asyncpg driver reports as a plain DBAPIError."""
    return isinstance(exc, DataError) or _sqlstate(exc).startswith("22")


def _database_unreachable(exc: Exception) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | ConnectionError):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or _sqlstate(exc)[:2] in _TRANSIENT_SQLSTATE_CLASSES
    )


#: SQLSTATE classes after which nothing was changed and the same request may succeed shortly:
#: 08 connection exception; 40 transaction rolled back (deadlock broken, serialization);
#: 53 insufficient resources (too many connections); 57 operator intervention (a server shutting
#: down terminates its sessions with 57P01, one starting up refuses them with 57P03).
_TRANSIENT_SQLSTATE_CLASSES: Final = frozenset({"08", "40", "53", "57"})


def _sqlstate(exc: Exception) -> str:
    """The SQLSTATE the driver reported (asyncpg: a plain DBAPIError carrying it), or ''."""
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else ""


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return problem_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal server error",
        "The server could not complete the request; nothing was changed.",
        "internal",
        instance=request.url.path,
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    OptinError: handle_domain_error,
    HTTPException: handle_http_error,
    DBAPIError: handle_database_error,
    PoolTimeout: handle_database_error,
    ConnectionError: handle_database_error,
    Exception: handle_unexpected,
}


def _status_title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _slug(title: str) -> str:
    return "-".join(title.lower().split())


def _is_json_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "problem_response"]
