"""The agent API over HTTPS: config, gallery long-poll, events, charges. Bearer token, backoff.

Every call is safe to repeat (GETs, and events and charges carry their idempotency keys), so
transport errors, 429 and 5xx are retried with exponential backoff and jitter; charges are retried
by the till (``gate_agent.payment``), which shows each retry. Errors come back as RFC 9457 problem
details; their title, detail, ``code`` and extra members are kept, the token never appears in a
message or log.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Final

import httpx

log = logging.getLogger(__name__)

API_PREFIX: Final = "/api/v1/agent"
MAX_WAIT_SECONDS: Final = 30
CHARGE_READ_SECONDS: Final = 30.0
_RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})


class ApiError(Exception):
    """The server answered with an error (after retries, if it was worth retrying)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        retry_after: float | None = None,
        *,
        code: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}" + (f": {detail}" if detail else ""))
        self.status = status
        self.title = title
        self.detail = detail
        self.retry_after = retry_after
        #: The problem's stable code (``pin-required``...): its ``code`` member, else the last
        #: segment of its ``type`` URI.
        self.code = code
        #: The problem's other members (``attempts_left``...), as received.
        self.extra: Mapping[str, Any] = extra or {}


class Unauthorized(ApiError):
    """401: the token is unknown or the gate was revoked."""


class Unreachable(Exception):
    """No answer from the server (connection refused, timeout, TLS failure...)."""


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 60.0) -> float:
    """Exponential backoff with full jitter: a random wait up to ``base * 2**attempt``."""
    return random.uniform(0, min(cap, base * 2**attempt))


class AgentClient:
    """A thread-safe client for one gate (httpx's Client may be shared across threads)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        stop: threading.Event | None = None,
    ) -> None:
        self._retries = retries
        self._timeout = timeout
        self._stop = stop or threading.Event()
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + API_PREFIX,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"AgentClient({str(self._http.base_url)!r})"

    def close(self) -> None:
        self._http.close()

    def get_config(self) -> Any:
        return self._json("GET", "/config")

    def get_gallery(self, since: int, wait: int = 0) -> Any:
        """Changes since ``since`` (0: a snapshot); the server holds the request up to ``wait``."""
        wait = max(0, min(wait, MAX_WAIT_SECONDS))
        return self._json(
            "GET",
            "/gallery",
            params={"since": since, "wait": wait},
            # The long-poll may legitimately take ``wait`` seconds before the first byte.
            timeout=httpx.Timeout(self._timeout, read=wait + self._timeout),
        )

    def post_events(self, events: Sequence[dict[str, Any]], *, retries: int | None = None) -> Any:
        """Send events; ``{"accepted": n, "duplicates": m}``. Repeating a batch is harmless."""
        return self._json("POST", "/events", json={"events": list(events)}, retries=retries)

    def post_charge(self, body: Mapping[str, Any]) -> Any:
        """One ``POST /charges`` attempt, never retried here: the caller retries with the same
        idempotency key and tells the till about each try."""
        return self._json(
            "POST",
            "/charges",
            json=dict(body),
            retries=0,
            # The server waits for the provider (authorise, then capture): give it time rather
            # than retry into "charge in progress".
            timeout=httpx.Timeout(self._timeout, read=max(self._timeout, CHARGE_READ_SECONDS)),
        )

    def _json(
        self,
        method: str,
        path: str,
        *,
        retries: int | None = None,
        **kwargs: Any,
    ) -> Any:
        retries = self._retries if retries is None else retries
        attempt = 0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                error: Exception = Unreachable(f"{method} {path}: {type(exc).__name__}")
            else:
                if response.is_success:
                    try:
                        return response.json()
                    except ValueError:
                        raise ApiError(response.status_code, "invalid JSON in the answer") from None
                error = _problem(response)
                if response.status_code not in _RETRY_STATUSES:
                    raise error
            if attempt >= retries or self._stop.is_set():
                raise error
            delay = _retry_after(error) or backoff_delay(attempt)
            attempt += 1
            log.debug("%s %s failed (%s); retry %d in %.1f s", method, path, error, attempt, delay)
            if self._stop.wait(delay):
                raise error


def _problem(response: httpx.Response) -> ApiError:
    title, detail, code = response.reason_phrase or "error", "", None
    extra: dict[str, Any] = {}
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        title = str(body.get("title") or title)
        detail = str(body.get("detail") or "")
        code = _problem_code(body)
        extra = {k: v for k, v in body.items() if k not in _PROBLEM_MEMBERS}
    cls = Unauthorized if response.status_code == 401 else ApiError
    retry_after = response.headers.get("Retry-After", "")
    seconds = min(float(retry_after), 60.0) if retry_after.isdigit() else None
    return cls(response.status_code, title, detail, seconds, code=code, extra=extra)


_PROBLEM_MEMBERS: Final = frozenset({"type", "title", "status", "detail", "instance", "code"})


def _problem_code(body: Mapping[str, Any]) -> str | None:
    code = body.get("code")
    if isinstance(code, str) and code:
        return code
    kind = body.get("type")
    if isinstance(kind, str) and kind not in ("", "about:blank"):
        return kind.rstrip("/").rsplit("/", 1)[-1] or None
    return None


def _retry_after(error: Exception) -> float | None:
    return error.retry_after if isinstance(error, ApiError) else None
