"""Application factory of the assertions service."""

from __future__ import annotations

from fastapi import FastAPI

from shared.app import Resources, attach, create_service_app, part_of
from shared.assertions import load_trusted_roots
from shared.config.load import configured_settings
from shared.health import HealthChecks
from shared.settings import Settings

from .routes import router
from .service import AssertionsService

SERVICE = "assertions"


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """Build the assertions service; settings: the configuration (shared.config) unless given."""
    settings = settings or configured_settings(service=SERVICE)
    app = create_service_app(SERVICE, settings, [router], resources=resources)
    built = part_of(app, Resources)
    part_of(app, HealthChecks).register("upstream", built.check_upstream, required=False)
    attach(
        app,
        AssertionsService(
            built.sessionmaker,
            built.upstream,
            ttl=settings.assertion_ttl,
            roots=load_trusted_roots(settings.trusted_root_keys),
        ),
    )
    return app
