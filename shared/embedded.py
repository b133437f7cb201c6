"""The embedded default: all five services in one process behind an in-process gateway.

It routes with the same table the nginx config is rendered from (``shared.routes``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from services.devicegw.dashboard.site import DashboardSite
from shared import __version__
from shared.admission import announces_body, drain_body
from shared.app import Resources, create_resources, part_of
from shared.db import create_engine, create_sessionmaker
from shared.metrics import ScrapeHook, ScrapeHooks
from shared.metrics_listener import MetricsListener
from shared.routes import service_for_path, status_target
from shared.settings import SERVICE_NAMES, Settings

AppFactory = Callable[[Settings, Resources], FastAPI]


def service_factory(service: str) -> AppFactory:
    """The ``create_app`` of ``services.<service>.app``."""
    module = importlib.import_module(f"services.{service}.app")
    factory: AppFactory = module.create_app
    return factory


class EmbeddedGateway:
    """An ASGI app that plays nginx's part for the five in-process services."""

    def __init__(self, settings: Settings, database_urls: Mapping[str, URL] | None = None) -> None:
        """``database_urls``: the URL each service connects with (its own role,
        ``shared.dbroles``), when it is not the settings' own."""
        self.resources = create_resources(settings, "snapproxy", with_peers=False)
        self.resources.sole_process = True
        self._engines: list[AsyncEngine] = []
        self.apps = {
            name: service_factory(name)(settings, self._resources_of(name, database_urls))
            for name in SERVICE_NAMES
        }
        for name, app in self.apps.items():
            self.resources.add_peer(
                name, f"http://{name}.embedded", transport=httpx.ASGITransport(app=app)
            )
        part_of(self.apps["devicegw"], DashboardSite).set_topology("embedded")

    def _resources_of(self, service: str, urls: Mapping[str, URL] | None) -> Resources:
        """The shared resources, with an engine of the service's own when its URL differs."""
        url = (urls or {}).get(service)
        if url is None or url == self.resources.engine.url:
            return self.resources
        engine = create_engine(self.resources.settings, application_name=service, url=url)
        self._engines.append(engine)
        return replace(self.resources, engine=engine, sessionmaker=create_sessionmaker(engine))

    async def _dispose_engines(self) -> None:
        for engine in self._engines:
            await engine.dispose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        if path == "/_status/ping":
            ping = {"service": "gateway", "topology": "embedded", "version": __version__}
            await _send_json(send, 200, ping)
            await discard_body(scope, receive)
            return
        if path == "/_status/check":
            scope = {**scope, "path": "/_status/suite", "raw_path": b"/_status/suite"}
            await self.apps["devicegw"](scope, receive, send)
            return
        target = status_target(path)
        if target is not None:
            service, rewritten = target
            scope = {**scope, "path": rewritten, "raw_path": rewritten.encode()}
        else:
            service = service_for_path(path) or ""
        app = self.apps.get(service)
        if app is None:
            body = {"error-list": [{"code": "not-found", "message": f"no such endpoint: {path}"}]}
            await _send_json(send, 404, body)
            await discard_body(scope, receive)
            return
        await app(scope, receive, send)

    @asynccontextmanager
    async def lifespan_context(self) -> AsyncIterator[None]:
        """Every service's lifespan, then the shared resources' closing (ASGI lifespan, or
        a test running the suite in its own event loop)."""
        async with AsyncExitStack() as stack:
            for app in self.apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
            stack.push_async_callback(self.resources.aclose)
            stack.push_async_callback(self._dispose_engines)
            settings = self.resources.settings
            if settings.metrics_port:
                listener = MetricsListener(
                    settings.metrics_address,
                    settings.metrics_port,
                    self.scrape_hooks,
                    settings.send_timeout,
                )
                await listener.start()
                stack.push_async_callback(listener.stop)
            yield

    def scrape_hooks(self) -> list[ScrapeHook]:
        """Every service's gauges computed when scraped (the metrics listener runs them)."""
        return [hook for app in self.apps.values() for hook in part_of(app, ScrapeHooks).hooks]

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        context = self.lifespan_context()
        try:
            await context.__aenter__()
        except Exception as exc:
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        try:
            message = await receive()
        finally:
            await context.__aexit__(None, None, None)
        await send({"type": "lifespan.shutdown.complete"})


async def discard_body(scope: Scope, receive: Receive) -> None:
    """After an answer of the gateway's own: read and drop the request's body (up to
    ``DRAIN_MAX_BYTES``), as nginx does, so that the connection stays usable (granian, with
    ``--server granian``, closes a connection whose body was left unread, without telling
    the client first)."""
    if announces_body(Headers(scope=scope)):
        await drain_body(receive)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": payload})


def create_embedded_app() -> EmbeddedGateway:
    """Factory for ASGI servers started by import path (settings: the environment, the
    bootstrap file and the config table, ``shared.config``)."""
    from shared.config.load import bootstrap_layers, configured_settings
    from shared.config.resolve import resolve
    from shared.dbroles import EMBEDDED_READER, service_layers
    from shared.logging import configure_logging
    from shared.settings import load_settings

    settings = configured_settings(service=EMBEDDED_READER)
    configure_logging(settings.log_format, settings.log_level)
    layers = bootstrap_layers(load_settings())
    urls = {
        name: resolve(service_layers(layers, name), check=False).settings.sqlalchemy_url
        for name in SERVICE_NAMES
    }
    return EmbeddedGateway(settings, urls)
