"""Application factory of the auth service."""

from __future__ import annotations

from fastapi import FastAPI

from services.auth.children import ChildRegistry
from services.auth.metrics import DEVICES
from services.auth.reporter import ParentReporter, report_to_parent
from services.auth.routes import router
from services.auth.service import AuthService
from shared.app import Resources, attach, create_service_app, part_of
from shared.config.load import configured_settings
from shared.health import HealthChecks
from shared.metrics import ScrapeHooks
from shared.settings import Settings

SERVICE = "auth"


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """Build the auth service; settings: the configuration (shared.config) unless given."""
    settings = settings or configured_settings(service=SERVICE)
    app = create_service_app(
        SERVICE,
        settings,
        routers=[router],
        resources=resources,
        lifespan_hooks=[report_to_parent],
    )
    # The resources exist only once the app is built (it creates them when not given).
    built = part_of(app, Resources)
    part_of(app, HealthChecks).register("upstream", built.check_upstream, required=False)
    service = AuthService(built.upstream, built.sessionmaker, airgap=lambda: built.settings.airgap)
    attach(
        app, service, ChildRegistry(built.sessionmaker, built.live), ParentReporter(built, service)
    )

    async def count_devices() -> None:
        DEVICES.set(await service.device_count())

    part_of(app, ScrapeHooks).add(count_devices)
    return app
