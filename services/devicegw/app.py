"""Application factory of the devicegw service."""

from __future__ import annotations

from fastapi import FastAPI

from services.devicegw.routes import router
from services.devicegw.service import DeviceGateway
from shared.app import Resources, create_service_app
from shared.settings import Settings, load_settings

SERVICE = "devicegw"


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """Build the devicegw service; settings come from the environment unless given."""
    settings = settings or load_settings()
    app = create_service_app(SERVICE, settings, [router], resources=resources)
    app.state.gateway = DeviceGateway(app.state.resources)
    app.state.informational_checks["upstream"] = app.state.resources.upstream.check
    return app
