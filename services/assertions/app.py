"""Application factory of the assertions service."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import Resources, create_service_app
from shared.settings import Settings, load_settings

from .routes import router
from .service import AssertionsService

SERVICE = "assertions"


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """Build the assertions service; settings come from the environment unless given."""
    settings = settings or load_settings()

    async def upstream() -> None:
        await app.state.resources.upstream.check()

    app = create_service_app(
        SERVICE,
        settings,
        [router],
        resources=resources,
        informational_checks={"upstream": upstream},
    )
    built: Resources = app.state.resources
    app.state.assertions = AssertionsService(
        built.sessionmaker, built.upstream, ttl=settings.assertion_ttl
    )
    return app
