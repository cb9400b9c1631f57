"""Server-rendered pages: the mobile enrollment flow, the portal and the operator console
(templates in ../templates, assets in ../static). ``create_app`` wires ``routes()`` and
``template_config()``."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from enrollment_app.web.console import ConsolePages
from enrollment_app.web.controllers import EnrollPages
from enrollment_app.web.portal import PortalPages
from enrollment_app.web.signage import SignagePages
from enrollment_app.web.templating import static_router, template_config


def routes() -> list[ControllerRouterHandler]:
    return [EnrollPages, PortalPages, ConsolePages, SignagePages, static_router()]


__all__ = ["routes", "template_config"]
