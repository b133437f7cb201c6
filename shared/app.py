"""The service application factory and the resources a service's lifespan owns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import __version__
from shared.cache import Cache, create_cache
from shared.db import create_engine, create_sessionmaker, ping_database
from shared.errors import install_error_handlers
from shared.health import Check, health_router
from shared.logging import RequestIdMiddleware
from shared.settings import Settings
from shared.suite_status import suite_status_router
from shared.upstream import Upstream

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]


@dataclass
class Resources:
    """Connections shared by a service's requests (and by all services when embedded)."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cache: Cache
    upstream: Upstream
    peers: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    async def aclose(self) -> None:
        for client in self.peers.values():
            await client.aclose()
        await self.upstream.aclose()
        await self.cache.close()
        await self.engine.dispose()


def create_resources(
    settings: Settings, application_name: str, *, with_peers: bool = True
) -> Resources:
    """Engine, cache and (over HTTP) peer clients; nothing connects until first use."""
    engine = create_engine(settings, application_name=application_name)
    peers = {
        name: httpx.AsyncClient(base_url=url, timeout=settings.check_timeout + 1)
        for name, url in settings.service_urls.items()
        if with_peers
    }
    return Resources(
        settings=settings,
        engine=engine,
        sessionmaker=create_sessionmaker(engine),
        cache=create_cache(settings.memcached_servers),
        upstream=Upstream(settings.upstream_url, timeout=settings.upstream_timeout),
        peers=peers,
    )


def default_checks(resources: Resources) -> dict[str, Check]:
    """The database and cache checks every service runs."""

    async def database() -> None:
        await ping_database(resources.engine, resources.settings.check_timeout)

    cache_name = "memcached" if resources.settings.memcached_servers else "cache"
    return {"database": database, cache_name: resources.cache.check}


def create_service_app(
    service: str,
    settings: Settings,
    routers: Iterable[APIRouter] = (),
    *,
    resources: Resources | None = None,
    extra_checks: dict[str, Check] | None = None,
    informational_checks: dict[str, Check] | None = None,
    lifespan_hooks: Iterable[LifespanHook] = (),
) -> FastAPI:
    """Build one service: health routes, error mapping, request ids, shared resources.

    When ``resources`` is given (the embedded default) the caller owns and closes them.
    ``informational_checks`` are reported by ``/_status/check`` without failing it (the
    upstream store: the proxy keeps serving what it has while the upstream is away).
    """
    owned = resources is None
    app_resources = resources or create_resources(settings, application_name=service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with AsyncExitStack() as stack:
                for hook in lifespan_hooks:
                    await stack.enter_async_context(hook(app))
                yield
        finally:
            if owned:
                await app_resources.aclose()

    app = FastAPI(
        title=f"snapproxy {service}",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.state.resources = app_resources
    app.state.checks = {**default_checks(app_resources), **(extra_checks or {})}
    app.state.informational_checks = informational_checks or {}
    install_error_handlers(app)
    app.include_router(health_router(service))
    app.include_router(suite_status_router())
    for router in routers:
        app.include_router(router)
    app.add_middleware(RequestIdMiddleware, service=service)
    return app
