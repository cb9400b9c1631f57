"""The operator console's pages: page shells only; ``static/console.js`` fills them from the API.

``GET /console`` is the sign-in form (user name, password, six-digit code). Every other page
(``/console/requests``, ``/console/operators`` ...) is an empty shell for one view: it holds no
data and checks nothing itself, because the JSON API under ``/api/v1/console`` decides what each
role may see and audits it. On load the script asks ``GET /api/v1/console/me`` who is signed in,
shows only the navigation the role's ``permissions`` allow, then loads the view; a 401 from any
call (signed out at the session limit, after idling, outside the allowed hours) sends the browser
back to the sign-in form with the server's reason.

The console is an operators' tool and is written in English only: its templates mark no string
for translation (``_()``), so the catalog rule for the tourist pages does not apply to them
(tests/e2e/test_console_pages.py keeps it that way).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from litestar import Controller, MediaType, Request, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from litestar.status_codes import HTTP_200_OK

from enrollment_app.console.context import CSRF_COOKIE
from enrollment_app.state import Services
from optin.services.operator_access import DEFAULT_HOURS, DEFAULT_NETWORKS
from optin.services.operator_devices import REGISTRATION_PATH
from optin.services.provisions import PROVIDABLE
from optin.services.roles import Permission

P = Permission
CONSOLE: Final = "/console"
API: Final = "/api/v1/console"


@dataclass(frozen=True)
class View:
    """One console page: where it lives, its heading, and the permission it needs (None: any
    signed-in operator)."""

    name: str
    path: str
    title: str
    permission: Permission | None
    #: The link text in the navigation; None for pages reached from another page.
    nav: str | None
    #: For a page not in the navigation: the view whose link it belongs under.
    section: str | None = None


#: In navigation order; an operator starts on the first view their role may use.
VIEWS: Final = (
    View("requests", f"{CONSOLE}/requests", "Request inbox", P.HANDLE_REQUESTS, "Requests"),
    View(
        "new-request",
        f"{CONSOLE}/requests/new",
        "Enter a request received by phone, mail or in person",
        P.HANDLE_REQUESTS,
        "Enter a request",
    ),
    View("request", f"{CONSOLE}/requests/{{id}}", "Request", P.HANDLE_REQUESTS, None, "requests"),
    View("people", f"{CONSOLE}/people", "A person's record", P.VIEW_SUBJECTS, "People"),
    View("operators", f"{CONSOLE}/operators", "Operators", P.MANAGE_OPERATORS, "Operators"),
    View("venues", f"{CONSOLE}/venues", "Venues and gates", P.MANAGE_VENUES, "Venues and gates"),
    View("notices", f"{CONSOLE}/notices", "Notices", P.MANAGE_VENUES, "Notices"),
    View("venue", f"{CONSOLE}/venue", "Your venue's gates and events", P.VIEW_EVENTS, "My venue"),
    View("audit", f"{CONSOLE}/audit", "Audit log", P.READ_AUDIT, "Audit log"),
    View("sessions", f"{CONSOLE}/sessions", "Console sessions", P.VIEW_SESSIONS, "Sessions"),
    View(
        "statistics",
        f"{CONSOLE}/statistics",
        "Venue statistics",
        P.VIEW_STATISTICS,
        "Statistics",
    ),
    View(
        "recipients",
        f"{CONSOLE}/recipients",
        "Third-party recipients",
        P.MANAGE_RECIPIENTS,
        "Recipients",
    ),
    # Every operator's own devices, linked from the header rather than the navigation.
    View("devices", f"{CONSOLE}/devices", "Your registered devices", None, None),
    View(
        "provisions",
        f"{CONSOLE}/provisions",
        "Third-party provision and law-enforcement release",
        P.PROVIDE_DATA,
        "Third parties",
    ),
)
_BY_PATH: Final = {v.path: v for v in VIEWS if "{" not in v.path}
_REQUEST_VIEW: Final = next(v for v in VIEWS if v.name == "request")

ROLE_NAMES: Final = {
    "administrator": "Administrator",
    "privacy_officer": "Privacy officer",
    "venue_staff": "Venue staff",
    "auditor": "Auditor",
}


def _headers() -> dict[str, str]:
    # The content security policy and the other security headers are set for every page in
    # enrollment_app/security_headers.py: own scripts, styles and API only, never framed.
    return {"Cache-Control": "no-store"}


def script_config(services: Services, view: View | None, **extra: Any) -> dict[str, Any]:
    """What console.js needs: the API's paths, the pages, this view, the time zone that allowed
    hours are read in, and what a new operator account is allowed by default."""
    return {
        "view": view.name if view else "sign-in",
        "permission": str(view.permission) if view and view.permission else None,
        "timezone": services.settings.console.timezone,
        "csrfCookie": CSRF_COOKIE,
        "roles": ROLE_NAMES,
        "defaults": {"networks": list(DEFAULT_NETWORKS), "hours": list(DEFAULT_HOURS)},
        "pages": {
            "signIn": CONSOLE,
            "start": [{"path": v.path, "permission": str(v.permission)} for v in VIEWS if v.nav],
            "request": f"{CONSOLE}/requests/",
            "people": f"{CONSOLE}/people",
        },
        "api": {
            "signIn": f"{API}/sign-in",
            "signOut": f"{API}/sign-out",
            "me": f"{API}/me",
            "requests": f"{API}/requests",
            "subjects": f"{API}/subjects",
            "operators": f"{API}/operators",
            "venues": f"{API}/venues",
            "gates": f"{API}/gates",
            "notices": f"{API}/notices",
            "audit": f"{API}/audit/",
            "auditVerify": f"{API}/audit/verify",
            "sessions": f"{API}/sessions/",
            "devices": f"{API}/devices",
            "recipients": f"{API}/provision-recipients",
            "provisions": f"{API}/provisions",
            "publicRecipients": "/api/v1/provision-recipients",
            "publicVenues": "/api/v1/venues",
        },
        # What a recipient can be registered to receive (register names and what they give).
        "providable": dict(PROVIDABLE),
        **extra,
    }


def _page(template: str, services: Services, view: View | None, **extra: Any) -> Template:
    context = {
        "view": view,
        "nav": [v for v in VIEWS if v.nav],
        "timezone": services.settings.console.timezone,
        "script_config": script_config(services, view, **extra),
    }
    return Template(
        template_name=template,
        context=context,
        status_code=HTTP_200_OK,
        headers=_headers(),
    )


class ConsolePages(Controller):
    include_in_schema = False

    @get(CONSOLE, media_type=MediaType.HTML)
    async def sign_in_page(self, services: Services) -> Template:
        return _page("console/sign_in.html", services, None)

    @get(REGISTRATION_PATH, media_type=MediaType.HTML)
    async def device_page(self, services: Services) -> Template:
        """Where a device registration link leads: the code stays in the fragment."""
        return _page("console/device.html", services, None, device=True)

    @get(list(_BY_PATH), media_type=MediaType.HTML)
    async def view_page(self, request: Request[Any, Any, Any], services: Services) -> Template:
        view = _BY_PATH.get(request.url.path.rstrip("/"))
        if view is None:
            raise NotFoundException("no such console page")
        return _page(f"console/{view.name}.html", services, view)

    @get(f"{CONSOLE}/requests/{{request_id:uuid}}", media_type=MediaType.HTML)
    async def request_page(self, request_id: FromPath[UUID], services: Services) -> Template:
        return _page("console/request.html", services, _REQUEST_VIEW, requestId=str(request_id))
