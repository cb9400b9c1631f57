"""Application factory: every plugin and route is wired here and nowhere else."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin

from enrollment_app.agent_api.controllers import AgentController
from enrollment_app.console.administration import AdministrationController
from enrollment_app.console.audit_log import AuditLogController
from enrollment_app.console.context import provide_console
from enrollment_app.console.devices import DevicesController
from enrollment_app.console.payments import PaymentsController
from enrollment_app.console.privacy import PrivacyController
from enrollment_app.console.provisions import ProvisionsController
from enrollment_app.console.session import ConsoleSessionController
from enrollment_app.console.sessions import SessionsController
from enrollment_app.console.statistics import StatisticsController
from enrollment_app.enrollment.controllers import EnrollmentController
from enrollment_app.health.controllers import HealthController
from enrollment_app.home import home
from enrollment_app.observability import MetricsController, RequestObserver
from enrollment_app.openapi_problems import declare_problem_responses
from enrollment_app.portal.controllers import PortalController
from enrollment_app.problems import EXCEPTION_HANDLERS
from enrollment_app.public.controllers import PublicController
from enrollment_app.public.recipients import RecipientsController
from enrollment_app.security_headers import security_headers
from enrollment_app.state import AppServices, provide_db_session, provide_services
from enrollment_app.web import routes as web_routes
from enrollment_app.web import template_config
from optin import __version__
from optin.config import Settings
from optin.db.engine import create_engine, session_factory
from optin.db.migrate import head_revision
from optin.mail import mail_sender_from_settings
from optin.runtime import open_keys
from optin.services.audit import AuditChainBroken, checkpoint
from optin.services.mail_queue import send_pending_periodically
from optin.services.renewal import apply_purpose_changes
from optin.services.retention import sweep

log = logging.getLogger(__name__)


RETENTION_SWEEP_SECONDS = 600


async def _sweep_periodically(services: AppServices) -> None:
    """Storage limitation without a cron job: every ten minutes, delete who is past their date
    and purge expired records."""
    while True:
        await asyncio.sleep(RETENTION_SWEEP_SECONDS)
        try:
            async with services.sessions() as session:
                result = await sweep(session, services.keys, periods=services.settings.retention)
            if result.deleted or any(result.purged.values()):
                log.info(
                    "retention sweep deleted %d people, purged %s",
                    result.deleted,
                    {table: rows for table, rows in result.purged.items() if rows},
                )
        except Exception as exc:  # noqa: BLE001 - a failed sweep must not stop the server
            log.error("retention sweep failed: %s", type(exc).__name__)


async def _apply_purpose_changes_periodically(services: AppServices) -> None:
    """A notice announced in advance takes effect without anyone at a console: consents its
    changed purposes outdate stop reaching the gates within a check interval."""
    while True:
        await asyncio.sleep(services.settings.gates.renewal_check_seconds)
        try:
            async with services.sessions() as session:
                marked = await apply_purpose_changes(session, services.keys)
            if marked:
                log.info("%d consents now need renewal after a change of purpose", marked)
        except Exception as exc:  # noqa: BLE001 - a failed check must not stop the server
            log.error("change-of-purpose check failed: %s", type(exc).__name__)


async def _checkpoint_periodically(services: AppServices) -> None:
    """Sign the audit log's tip every few minutes (when it moved), so rewriting the log before
    the last checkpoint takes the signing key as well as the database."""
    while True:
        await asyncio.sleep(services.settings.console.audit_checkpoint_seconds)
        try:
            async with services.sessions() as session:
                signed = await checkpoint(session, services.keys.signer)
                await session.commit()
            if signed is not None:
                log.debug("audit log checkpoint at entry %d", signed.seq)
        except AuditChainBroken as exc:
            log.error("audit checkpoint refused: %s", exc.detail)
        except Exception as exc:  # noqa: BLE001 - a failed checkpoint must not stop the server
            log.error("audit checkpoint failed: %s", type(exc).__name__)


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
        sweeper = asyncio.create_task(_sweep_periodically(app.state["services"]))
        renewals = asyncio.create_task(_apply_purpose_changes_periodically(app.state["services"]))
        checkpoints = asyncio.create_task(_checkpoint_periodically(app.state["services"]))
        services: AppServices = app.state["services"]
        mails = asyncio.create_task(
            send_pending_periodically(
                services.sessions, services.keys, services.settings, services.mailer
            )
        )
        try:
            yield
        finally:
            sweeper.cancel()
            renewals.cancel()
            checkpoints.cancel()
            mails.cancel()
            await app.state["services"].aclose()
            await engine.dispose()

    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            PublicController,
            EnrollmentController,
            AgentController,
            PortalController,
            ConsoleSessionController,
            AdministrationController,
            PrivacyController,
            AuditLogController,
            PaymentsController,
            SessionsController,
            DevicesController,
            StatisticsController,
            ProvisionsController,
            RecipientsController,
            home,
            *web_routes(),
        ],
        template_config=template_config(),
        middleware=[RequestObserver()],
        lifespan=[lifespan],
        dependencies={
            "db_session": Provide(provide_db_session),
            "services": Provide(provide_services),
            "console": Provide(provide_console),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        before_send=[security_headers(settings)],
        openapi_config=OpenAPIConfig(
            title="optin API",
            version=__version__,
            description="Consent-based, opt-in face recognition. Errors are RFC 9457 problem "
            "details (application/problem+json).",
            path="/api/docs",
            render_plugins=[SwaggerRenderPlugin(), JsonRenderPlugin()],
        ),
    )
    declare_problem_responses(app)
    return app
