"""Application factory of the devicegw service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.devicegw.clients import OtherClients
from services.devicegw.dashboard.admin_routes import router as dashboard_admin_router
from services.devicegw.dashboard.cache_routes import router as dashboard_cache_router
from services.devicegw.dashboard.docs_render import DocsLibrary, docs_directory
from services.devicegw.dashboard.docs_routes import router as docs_router
from services.devicegw.dashboard.routes import router as dashboard_router
from services.devicegw.dashboard.site import DashboardSite
from services.devicegw.routes import router
from services.devicegw.service import DeviceGateway
from shared.app import Resources, attach, create_service_app, part_of
from shared.config.load import configured_settings
from shared.health import HealthChecks
from shared.settings import Settings

SERVICE = "devicegw"


@asynccontextmanager
async def finish_client_writes(app: FastAPI) -> AsyncIterator[None]:
    yield
    await part_of(app, OtherClients).aclose()


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """Build the devicegw service; settings: the configuration (shared.config) unless given."""
    settings = settings or configured_settings(service=SERVICE)
    app = create_service_app(
        SERVICE,
        settings,
        [router, dashboard_router, dashboard_cache_router, dashboard_admin_router, docs_router],
        resources=resources,
        lifespan_hooks=[finish_client_writes],
    )
    built = part_of(app, Resources)
    part_of(app, HealthChecks).register("upstream", built.check_upstream, required=False)
    clients = OtherClients(built.sessionmaker)
    # The admin's dashboard (/dashboard/): devicegw is the service every gateway reaches
    # first and already asks its peers (/_status/suite); the embedded gateway says
    # "embedded" once it has built the services.
    attach(app, DeviceGateway(built, clients), clients, DashboardSite(built))
    attach(app, DocsLibrary(docs_directory()))  # /docs/: the documentation, public
    return app
