"""Application factory: every plugin and route is wired here and nowhere else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin

from enrollment_app.agent_api.controllers import AgentController
from enrollment_app.enrollment.controllers import EnrollmentController
from enrollment_app.health.controllers import HealthController
from enrollment_app.home import home
from enrollment_app.problems import EXCEPTION_HANDLERS
from enrollment_app.public.controllers import PublicController
from enrollment_app.state import AppServices, provide_db_session, provide_services
from enrollment_app.web import routes as web_routes
from enrollment_app.web import template_config
from optin import __version__
from optin.config import Settings
from optin.db.engine import create_engine, session_factory
from optin.db.migrate import head_revision
from optin.mail import mail_sender_from_settings
from optin.runtime import open_keys


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url)
        settings.ensure_data_dir()
        app.state["services"] = AppServices(
            settings=settings,
            keys=open_keys(settings),
            mailer=mail_sender_from_settings(settings),
            engine=engine,
            sessions=session_factory(engine),
            schema_head=head_revision(),
        )
        try:
            yield
        finally:
            await engine.dispose()

    return Litestar(
        route_handlers=[
            HealthController,
            PublicController,
            EnrollmentController,
            AgentController,
            home,
            *web_routes(),
        ],
        template_config=template_config(),
        lifespan=[lifespan],
        dependencies={
            "db_session": Provide(provide_db_session),
            "services": Provide(provide_services),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title="optin API",
            version=__version__,
            description="Consent-based, opt-in face recognition. Errors are RFC 9457 problem "
            "details (application/problem+json).",
            path="/api/docs",
            render_plugins=[SwaggerRenderPlugin(), JsonRenderPlugin()],
        ),
    )
