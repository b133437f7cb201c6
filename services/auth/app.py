"""Application factory of the auth service."""

from __future__ import annotations

from fastapi import FastAPI

from services.auth.routes import router
from shared.app import Resources, create_service_app
from shared.settings import Settings, load_settings

SERVICE = "auth"


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """Build the auth service; settings come from the environment unless given."""
    settings = settings or load_settings()
    app = create_service_app(SERVICE, settings, routers=[router], resources=resources)
    # The resources exist only once the app is built (it creates them when not given).
    built: Resources = app.state.resources
    app.state.informational_checks = {"upstream": built.upstream.check}
    return app
