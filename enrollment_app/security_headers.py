"""Security headers on every response, decided in this one place.

``create_app`` registers ``security_headers(settings)`` as a ``before_send`` hook, so pages, the
JSON API, static files, redirects and error answers (404s included) all get them:

- ``Content-Security-Policy``: a page loads only its own scripts, styles and images, talks only
  to its own origin, submits forms only to it and is never framed (``frame-ancestors 'none'``).
  The portal page also talks to the payment sandbox (``Settings.payments.sandbox_url``): card
  details go from the browser straight to the provider, never through this server. Anything that
  is not HTML gets ``default-src 'none'`` (an API answer opened in a tab runs nothing). The
  OpenAPI viewer under ``/api/docs`` loads Swagger UI from a CDN with an inline script, so it only
  gets ``frame-ancestors 'none'``.
- ``Permissions-Policy``: no camera, microphone, location or payment handler, except the camera
  for the enrollment page itself (``camera=(self)``).
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (pages hold one-time
  tokens), ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors``.
- ``Strict-Transport-Security`` only when the public URL (``Settings.base_url``) is https: over
  plain http (a laptop demo) it would be ignored, and on a shared host name it would be wrong.

A header the handler set itself is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import urlsplit

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from optin.config import Settings

#: Every server-rendered page: the enrollment flow, the portal, signage and the console.
PAGE_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
#: JSON, problem details, files: nothing to run, nothing to embed.
API_POLICY: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
DOCS_POLICY: Final = "frame-ancestors 'none'"
DOCS_PREFIX: Final = "/api/docs"

_NO_FEATURES: Final = (
    "accelerometer=(), autoplay=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=(), interest-cohort=()"
)
PERMISSIONS_POLICY: Final = f"camera=(), {_NO_FEATURES}"
ENROLL_PERMISSIONS_POLICY: Final = f"camera=(self), {_NO_FEATURES}"
HSTS: Final = "max-age=31536000"

_ENROLL_PAGE: Final = re.compile(r"^/[A-Za-z-]+/enroll/?$")
_PORTAL_PAGE: Final = re.compile(r"^/[A-Za-z-]+/portal(/.*)?$")


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, or None when it has no scheme and host."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def page_policy(connect: tuple[str, ...] = ()) -> str:
    """The pages' policy; ``connect`` adds origins a page's script may call besides its own."""
    if not connect:
        return PAGE_POLICY
    return PAGE_POLICY.replace("connect-src 'self'", " ".join(("connect-src 'self'", *connect)))


def headers_for(settings: Settings, path: str, content_type: str) -> dict[str, str]:
    """The security headers for one answer: by its path and whether it is an HTML page."""
    html = content_type.split(";", 1)[0].strip().lower() == "text/html"
    if path == DOCS_PREFIX or path.startswith(DOCS_PREFIX + "/"):
        policy = DOCS_POLICY
    elif not html:
        policy = API_POLICY
    elif _PORTAL_PAGE.match(path) and settings.payments.provider == "sandbox":
        sandbox = origin_of(settings.payments.sandbox_url)
        policy = page_policy((sandbox,) if sandbox else ())
    else:
        policy = PAGE_POLICY
    enroll = html and _ENROLL_PAGE.match(path) is not None
    headers = {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Permissions-Policy": ENROLL_PERMISSIONS_POLICY if enroll else PERMISSIONS_POLICY,
    }
    if settings.base_url.startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    return headers


def security_headers(settings: Settings) -> Callable[[Message, Scope], Awaitable[None]]:
    """A ``before_send`` hook adding ``headers_for`` to every HTTP answer."""

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        wanted = headers_for(settings, scope["path"], headers.get("content-type") or "")
        for name, value in wanted.items():
            if name not in headers:
                headers[name] = value

    return add_headers


__all__ = ["PAGE_POLICY", "headers_for", "page_policy", "security_headers"]
