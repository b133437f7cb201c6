"""Application factory of the downloads service: the one place its parts are put together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.downloads.admin import router as admin_router
from services.downloads.answers import CacheLimits
from services.downloads.blobcache import BlobCache
from services.downloads.counters import HitCounters
from services.downloads.deps import DownloadsParts
from services.downloads.eviction import Evictor
from services.downloads.internal import router as internal_router
from services.downloads.ledger import Ledger
from services.downloads.revision_index import RevisionIndex
from services.downloads.routes import router
from services.downloads.service import Downloads
from services.downloads.storage import create_blob_store
from shared.app import Resources, attach, create_service_app, part_of
from shared.config.load import configured_settings
from shared.egress import BlobOrigins
from shared.health import HealthChecks
from shared.internal import InternalSecretAuth
from shared.outbound import Outbound
from shared.pushed_api import PushedClient
from shared.revisions_api import RevisionsClient
from shared.settings import Settings

SERVICE = "downloads"
# Blob file I/O (writes, hashing, fsync, pread, stat) runs here, off the event loop.
IO_THREADS = 32


def build_blob_cache(
    settings: Settings,
    resources: Resources,
    io: Executor,
    transport: httpx.AsyncBaseTransport | None = None,
) -> BlobCache:
    """The cache and its parts, from settings (``transport``: the upstream, in tests)."""
    store = create_blob_store(settings, sole_process=resources.sole_process)
    outbound = Outbound.from_settings(settings)
    ledger = Ledger(
        resources.engine, resources.sessionmaker, lease_timeout=settings.fill_lease_timeout
    )
    counters = HitCounters(ledger, settings.counter_flush_interval)
    evictor = Evictor(
        live=resources.live,
        min_free=settings.cache_min_free_bytes,
        store=store,
        ledger=ledger,
        counters=counters,
        io=io,
    )
    return BlobCache(
        store=store,
        ledger=ledger,
        evictor=evictor,
        counters=counters,
        client=httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, read=settings.blob_read_timeout),
            follow_redirects=False,
            transport=transport,
            **outbound.client_options(),
        ),
        outbound=outbound,
        allows=BlobOrigins.from_settings(settings).allows,
        upstream_url=settings.upstream_url,
        io=io,
        limits=CacheLimits(
            max_fills=settings.max_fills,
            max_fills_per_client=settings.max_fills_per_client,
            resume_ahead=settings.resume_ahead_bytes,
            stall_limit=settings.fill_lease_timeout * 2 + settings.blob_read_timeout,
            shutdown_grace=settings.shutdown_grace,
            object_urls_seconds=settings.storage_s3_url_expiry
            if settings.storage_backend == "s3"
            and (settings.accel_redirect or settings.storage_s3_redirect)
            else 0,
        ),
        lease_timeout=settings.fill_lease_timeout,
        peers=httpx.AsyncClient(
            auth=InternalSecretAuth(resources.internal_secret),
            timeout=httpx.Timeout(10.0, read=settings.fill_lease_timeout * 2),
            follow_redirects=False,
        ),
        node_url=settings.node_url,
    )


def create_app(settings: Settings | None = None, resources: Resources | None = None) -> FastAPI:
    """Build the downloads service; settings come from the environment, the bootstrap file
    and the config table unless given."""
    settings = settings or configured_settings(service=SERVICE)
    io = ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="blob-io")

    @asynccontextmanager
    async def blob_cache(app: FastAPI) -> AsyncIterator[None]:
        await cache.start()
        try:
            yield
        finally:
            await cache.aclose()
            io.shutdown(wait=False, cancel_futures=True)

    app = create_service_app(
        SERVICE,
        settings,
        [router, admin_router, internal_router],
        resources=resources,
        lifespan_hooks=[blob_cache],
    )
    built = part_of(app, Resources)
    cache = build_blob_cache(settings, built, io)
    index = RevisionIndex(built.cache, RevisionsClient(built.peers), built.upstream)
    attach(
        app,
        DownloadsParts(
            downloads=Downloads(
                index, cache, PushedClient(built.peers), airgap=lambda: built.settings.airgap
            ),
            cache=cache,
            accel_redirect=settings.accel_redirect,
        ),
    )
    part_of(app, HealthChecks).register("storage", cache.check_storage)
    return app
