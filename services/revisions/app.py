"""Application factory of the revisions service."""

from __future__ import annotations

from fastapi import FastAPI

from services.revisions.routes import router
from shared.app import Resources, create_service_app
from shared.settings import Settings, load_settings

SERVICE = "revisions"


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """Build the revisions service; settings come from the environment unless given."""
    settings = settings or load_settings()
    return create_service_app(SERVICE, settings, [router], resources=resources)
