"""Application factory of the downloads service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from services.downloads.admin import router as admin_router
from services.downloads.blobcache import BlobCache
from services.downloads.routes import router
from services.downloads.service import Downloads
from services.downloads.storage import LocalBlobStore
from shared.app import Resources, create_service_app
from shared.settings import Settings, load_settings

SERVICE = "downloads"
log = structlog.get_logger(__name__)


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """Build the downloads service; settings come from the environment unless given."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def blob_cache(app: FastAPI) -> AsyncIterator[None]:
        try:
            await app.state.blob_cache.sweep_orphans()
        except Exception as exc:  # the database may be away at start: sweep next time
            log.warning("cache.sweep_failed", error=str(exc) or type(exc).__name__)
        try:
            yield
        finally:
            await app.state.blob_cache.aclose()

    app = create_service_app(
        SERVICE, settings, [router, admin_router], resources=resources, lifespan_hooks=[blob_cache]
    )
    store = LocalBlobStore(settings.cache_dir)
    cache = BlobCache(settings, store, app.state.resources.sessionmaker)
    app.state.blob_cache = cache
    app.state.checks["storage"] = cache.check_storage
    app.state.downloads = Downloads(app.state.resources, cache)
    return app
