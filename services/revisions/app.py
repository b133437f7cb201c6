"""Application factory of the revisions service."""

from __future__ import annotations

from fastapi import FastAPI

from services.revisions.admin_routes import router as admin_router
from services.revisions.pushed_admin_routes import router as pushed_admin_router
from services.revisions.pushed_routes import router as pushed_router
from services.revisions.routes import router
from services.revisions.service import RecordPolicy
from shared.app import Resources, attach, create_service_app
from shared.config.load import configured_settings
from shared.settings import Settings

SERVICE = "revisions"


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """Build the revisions service; settings: the configuration (shared.config) unless given."""
    settings = settings or configured_settings(service=SERVICE)
    app = create_service_app(
        SERVICE,
        settings,
        [router, admin_router, pushed_router, pushed_admin_router],
        resources=resources,
    )
    attach(app, RecordPolicy.from_settings(settings))
    return app
