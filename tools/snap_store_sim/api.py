"""The Store API application and its gate (stats, faults, Store headers)."""

from __future__ import annotations

import re
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import admin, catalog_api, endpoints, registration
from .refresh import snap_refresh
from .responses import STORE_VERSION, store_error
from .state import SimState

ROUTES: list[BaseRoute] = [
    Route("/", endpoints.root, methods=["GET", "HEAD"]),
    Route("/v2/snaps/refresh", snap_refresh, methods=["POST"]),
    Route("/v2/snaps/info/{name}", catalog_api.snap_info, methods=["GET"]),
    Route("/v2/snaps/find", catalog_api.snap_find, methods=["GET"]),
    Route("/v2/snaps/categories", catalog_api.categories, methods=["GET"]),
    Route("/v2/cohorts", catalog_api.cohorts, methods=["POST"]),
    Route("/v2/assertions/{type}/{key:path}", endpoints.assertion, methods=["GET"]),
    Route("/api/v1/snaps/sections", catalog_api.sections, methods=["GET"]),
    Route("/api/v1/snaps/names", catalog_api.names, methods=["GET"]),
    Route("/api/v1/snaps/auth/nonces", endpoints.nonces, methods=["POST"]),
    Route("/api/v1/snaps/auth/sessions", endpoints.sessions, methods=["POST"]),
    Route("/api/v1/snaps/download/{file}", endpoints.download, methods=["GET", "HEAD"]),
    *admin.ROUTES,
    *registration.ROUTES,
]
_CONVERTER = re.compile(r":[a-z]+}")
CREDENTIAL_HEADERS = (b"authorization", b"snap-device-authorization", b"x-device-authorization")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return store_error(404, f"Path {request.url.path} not found.", "not-found")
    if status == 405:
        headers = getattr(exc, "headers", None) or {}
        response = store_error(405, f"Method {request.method} not allowed.")
        response.headers.update(headers)
        return response
    return store_error(status, str(getattr(exc, "detail", "error")))


async def _server_error(request: Request, exc: Exception) -> Response:
    return store_error(500, f"internal error: {type(exc).__name__}: {exc}", "internal-error")


def route_template(routes: list[BaseRoute], scope: Scope) -> str:
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE and isinstance(route, Route):
            return _CONVERTER.sub("}", route.path)
    return "*"


class StoreGate:
    """Counts requests, applies latency/hang/error faults, adds ``Snap-Store-Version``."""

    def __init__(self, app: Starlette, state: SimState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"snap-store-version", STORE_VERSION.encode()))
                message = {**message, "headers": headers}
            await send(message)

        path: str = scope["path"]
        if path.startswith("/_sim/"):
            await self.app(scope, receive, send_with_version)
            return
        state = self.state
        state.stats.request(scope["method"], route_template(self.app.routes, scope))
        state.stats.arrived("api", scope)
        for name, value in scope["headers"]:
            if name in CREDENTIAL_HEADERS:
                state.stats.credentials[f"{name.decode()}: {value.decode('latin-1')}"] += 1
        await state.faults.delay()
        await state.faults.hold(path, default=True)
        faults = state.faults.current
        if faults.error_status is not None and faults.matches(path, default=True):
            response = store_error(
                faults.error_status, f"simulated failure ({faults.error_status})"
            )
            await response(scope, receive, send_with_version)
            return
        await self.app(scope, receive, send_with_version)


def create_api_app(state: SimState) -> ASGIApp:
    handlers: dict[Any, Any] = {404: _http_error, 405: _http_error, Exception: _server_error}
    app = Starlette(routes=ROUTES, exception_handlers=handlers)
    app.state.sim = state
    return StoreGate(app, state)
