"""The service application factory and the resources a service's lifespan owns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import __version__
from shared.admission import RequestAdmission
from shared.cache import Cache, create_cache
from shared.config.live import LiveSettings
from shared.db import create_engine, create_sessionmaker, ping_database
from shared.errors import install_error_handlers
from shared.health import HealthChecks, health_router
from shared.internal import InternalSecret, InternalSecretAuth
from shared.logging import RequestIdMiddleware
from shared.metrics import RequestMetrics, ScrapeHooks, metrics_router
from shared.outbound import Outbound
from shared.serving import BodyReadTimeout
from shared.settings import Settings
from shared.suite_status import suite_status_router
from shared.upstream import Upstream
from shared.upstream_status import upstream_status_router

LifespanHook = Callable[[FastAPI], AbstractAsyncContextManager[None]]
Part = TypeVar("Part")


@dataclass
class Resources:
    """Connections shared by a service's requests (and by all services when embedded), and
    the settings they follow (``live``: the configuration as it is now)."""

    live: LiveSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cache: Cache
    upstream: Upstream
    internal_secret: InternalSecret
    peers: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    # The embedded default: the services of this process are the only ones using the data
    # directory (what leaves the cache folder, this process removed).
    sole_process: bool = False

    @property
    def settings(self) -> Settings:
        """The settings as they are now: live keys follow ``snap-proxy config``."""
        return self.live.current

    def add_peer(
        self, name: str, base_url: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> httpx.AsyncClient:
        """The client for service ``name``; every request it sends carries the internal
        secret. Every service-to-service client is made here."""
        client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=self.settings.check_timeout + 1,
            auth=InternalSecretAuth(self.internal_secret),
        )
        self.peers[name] = client
        return client

    async def check_upstream(self) -> None:
        """The upstream health check; in airgap mode the upstream is never contacted, so
        there is nothing to check."""
        if not self.settings.airgap:
            await self.upstream.check()

    async def aclose(self) -> None:
        await self.live.aclose()
        for client in self.peers.values():
            await client.aclose()
        await self.upstream.aclose()
        await self.cache.close()
        await self.engine.dispose()


def create_resources(
    settings: Settings,
    application_name: str,
    *,
    with_peers: bool = True,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> Resources:
    """Engine, cache, the upstream client and (over HTTP) peer clients; nothing connects until
    first use (the configuration table is read when a service's lifespan starts).
    ``upstream_transport`` replaces the network under the upstream client (tests)."""
    engine = create_engine(settings, application_name=application_name)
    sessionmaker = create_sessionmaker(engine)
    configured = settings.internal_secret.get_secret_value() if settings.internal_secret else None
    resources = Resources(
        live=LiveSettings(settings, sessionmaker),
        engine=engine,
        sessionmaker=sessionmaker,
        cache=create_cache(settings.memcached_servers),
        upstream=Upstream(
            settings.upstream_url,
            timeout=settings.upstream_timeout,
            transport=upstream_transport,
            outbound=Outbound.from_settings(settings),
        ),
        internal_secret=InternalSecret(configured, sessionmaker),
    )
    if with_peers:
        for name, url in settings.service_urls.items():
            resources.add_peer(name, url)
    return resources


def default_checks(resources: Resources) -> HealthChecks:
    """The database and cache checks every service runs (required)."""

    async def database() -> None:
        await ping_database(resources.engine, resources.settings.check_timeout)

    checks = HealthChecks()
    checks.register("database", database)
    checks.register(
        "memcached" if resources.settings.memcached_servers else "cache", resources.cache.check
    )
    return checks


def attach(app: FastAPI, *parts: object) -> None:
    """Make a service's objects reachable by their type (:func:`part_of`); the app factory
    is the only place that attaches, typed dependencies (``deps.py``) the place that reads."""
    registry: dict[type, object] = app.state.parts
    for part in parts:
        registry[type(part)] = part


def part_of(app: FastAPI, kind: type[Part]) -> Part:
    """The object of type ``kind`` attached to ``app``; LookupError if there is none."""
    registry: dict[type, object] = app.state.parts
    found = registry.get(kind)
    if not isinstance(found, kind):
        raise LookupError(f"{app.title} has no {kind.__name__}")
    return found


def create_service_app(
    service: str,
    settings: Settings,
    routers: Iterable[APIRouter] = (),
    *,
    resources: Resources | None = None,
    lifespan_hooks: Iterable[LifespanHook] = (),
) -> FastAPI:
    """Build one service: health routes, ``/metrics`` (``shared.metrics``), error mapping,
    request ids, request metrics, shared resources.

    When ``resources`` is given (the embedded default) the caller owns and closes them.
    The app carries its ``Resources`` and ``HealthChecks`` (:func:`part_of`); the service's
    factory registers its own checks there and attaches its service objects.
    """
    owned = resources is None
    app_resources = resources or create_resources(settings, application_name=service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            # Before serving: the configuration table (then followed every few seconds), and
            # the internal secret (generated on first start) that internal calls need.
            await app_resources.live.start()
            await app_resources.internal_secret.get()
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
        # No trailing-slash redirects: they would be built from the request's Host header.
        redirect_slashes=False,
        # snapproxy reports through Prometheus (/metrics) and structlog; FastAPI's own
        # OpenTelemetry hooks, off, cost no look for a configured provider per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    checks = default_checks(app_resources)
    scrape_hooks = ScrapeHooks()
    app.state.parts = {}
    attach(app, app_resources, checks, scrape_hooks)
    install_error_handlers(app)
    # The service's own routes first: FastAPI tries each route in turn, and a device's
    # request (a cache hit above all) should not pay for the status routes' look first.
    # No service route can take a status path (tests/foundation/test_routes.py).
    for router in routers:
        app.include_router(router)
    app.include_router(health_router(service, checks, settings.check_timeout))
    app.include_router(metrics_router(scrape_hooks))
    app.include_router(suite_status_router(app_resources.peers))
    app.include_router(upstream_status_router(service, app_resources))
    app.add_middleware(
        RequestAdmission, live=app_resources.live, internal_secret=app_resources.internal_secret
    )
    app.add_middleware(BodyReadTimeout, timeout=settings.client_timeout)
    app.add_middleware(RequestIdMiddleware, service=service)
    app.add_middleware(RequestMetrics, service=service, routes=app.router.routes)
    return app
