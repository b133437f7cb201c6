"""The embedded default: all five services in one process behind an in-process gateway.

It routes with the same table the nginx config is rendered from (``shared.routes``).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from shared import __version__
from shared.app import Resources, create_resources
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

    def __init__(self, settings: Settings) -> None:
        self.resources = create_resources(settings, "snapproxy", with_peers=False)
        self.apps = {
            name: service_factory(name)(settings, self.resources) for name in SERVICE_NAMES
        }
        for name, app in self.apps.items():
            self.resources.peers[name] = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url=f"http://{name}.embedded",
                timeout=settings.check_timeout + 1,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        if path == "/_status/ping":
            await _send_json(send, 200, {"service": "gateway", "version": __version__})
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
            return
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with AsyncExitStack() as stack:
            try:
                for app in self.apps.values():
                    await stack.enter_async_context(app.router.lifespan_context(app))
                stack.push_async_callback(self.resources.aclose)
            except Exception as exc:
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})


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
    """Factory for ASGI servers started by import path (settings from the environment)."""
    from shared.logging import configure_logging
    from shared.settings import load_settings

    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return EmbeddedGateway(settings)
