"""Prometheus metrics: ``/metrics`` on every service, and the request counts every service keeps.

Who may call ``/metrics``: the monitoring system (Prometheus), on the services' internal
network. Each service answers it on its own port, without a token, as it answers
``/_status/check``; no gateway ever routes it (it is in no prefix of ``shared.routes``: nginx
and the embedded gateway answer 404 in the Store's shape), so devices never reach it. The
embedded default (``snap-proxy serve``) has one port, the public one: its metrics have a
listener of their own (``metrics.port``, on ``metrics.address``: loopback unless told), off
unless configured. The metrics carry no snap names, device ids or addresses: counts only.

Processes: ``serve-service --workers N`` (N > 1) runs N uvicorn worker processes behind one
socket, each with its own counters, and a scrape reaches one of them at random. The command
then points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before the workers start, and
``/metrics`` sums every worker's files (prometheus-client's multiprocess mode). With one
worker (every deployment here), in ``snap-proxy serve`` (one process) and under
``--server granian`` (one worker process, which builds the app), a process's own registry is
the whole story.

Values computed when scraped (the number of devices) come from :class:`ScrapeHooks`: async
functions run before the exposition is rendered, each with a timeout; a failing one is
logged and leaves its gauge as it was. Rendering runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)

METRICS_PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
HOOK_TIMEOUT = 2.0
UNMATCHED = "<unmatched>"  # the route label of a request no route answers (bounded)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds: API calls (milliseconds) up to whole downloads streamed through a service.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

HTTP_REQUESTS = Counter(
    "snapproxy_http_requests_total",
    "Requests answered, by service, route template, method and status.",
    ["service", "route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "snapproxy_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer (a download's whole transfer).",
    ["service", "route", "method"],
    buckets=LATENCY_BUCKETS,
)
HTTP_IN_PROGRESS = Gauge(
    "snapproxy_http_requests_in_progress",
    "Requests being answered now.",
    ["service"],
    multiprocess_mode="livesum",
)

ScrapeHook = Callable[[], Awaitable[None]]


class ScrapeHooks:
    """A service's gauges that are computed when scraped (attached to each app)."""

    def __init__(self) -> None:
        self.hooks: list[ScrapeHook] = []

    def add(self, hook: ScrapeHook) -> None:
        self.hooks.append(hook)


def _route_template(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """The template of the route that answered (``/v2/snaps/info/{name}``), never the raw
    path; a request stopped before routing (a refused admin token) is matched here."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    for candidate in routes:
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            found = getattr(candidate, "path", None)
            return found if isinstance(found, str) else UNMATCHED
    return UNMATCHED


class RequestMetrics:
    """Pure ASGI middleware: counts each request by route template and status, and times it
    (the outermost middleware: it sees every answer, the refusals of the others too)."""

    def __init__(self, app: ASGIApp, service: str, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.service = service
        self.routes = routes
        self.in_progress = HTTP_IN_PROGRESS.labels(service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.in_progress.inc()
        try:
            await self.app(scope, receive, counting_send)
        finally:
            self.in_progress.dec()
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = _route_template(scope, self.routes)
            # No answer started: the client left, or the application failed (its 500).
            label = str(status) if status else "none"
            HTTP_REQUESTS.labels(self.service, route, method, label).inc()
            HTTP_DURATION.labels(self.service, route, method).observe(time.perf_counter() - started)


def exposition() -> bytes:
    """The text format of every metric of this process (of every worker, in multiprocess
    mode). Blocking (files in multiprocess mode): call it in a thread."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def _run_hook(hook: ScrapeHook) -> None:
    try:
        async with asyncio.timeout(HOOK_TIMEOUT):
            await hook()
    except Exception as exc:
        log.warning("metrics.scrape_hook_failed", error=str(exc) or type(exc).__name__)


async def render(hooks: Iterable[ScrapeHook]) -> bytes:
    """Run the scrape hooks (concurrently), then render in a thread."""
    await asyncio.gather(*(_run_hook(hook) for hook in hooks))
    return await asyncio.to_thread(exposition)


def metrics_router(hooks: ScrapeHooks) -> APIRouter:
    """``GET /metrics``: for the monitoring system, on the service's own port (see above)."""
    router = APIRouter(include_in_schema=False)

    @router.get(METRICS_PATH)
    async def metrics() -> Response:
        return Response(await render(hooks.hooks), media_type=CONTENT_TYPE_LATEST)

    return router


def metrics_app(hooks: Callable[[], Iterable[ScrapeHook]]) -> FastAPI:
    """The embedded default's metrics listener: ``/metrics`` and nothing else (anything else
    is a 404 in the Store's shape)."""
    from shared.errors import install_error_handlers

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False)
    install_error_handlers(app)

    @app.get(METRICS_PATH)
    async def metrics() -> Response:
        return Response(await render(hooks()), media_type=CONTENT_TYPE_LATEST)

    return app


# -- the upstream store (shared.upstream) ------------------------------------------------

UPSTREAM_REQUESTS = Counter(
    "snapproxy_upstream_requests_total",
    "Calls to the upstream store's API, by method and status (`error`: no answer).",
    ["method", "status"],
)
UPSTREAM_ERRORS = Counter(
    "snapproxy_upstream_errors_total",
    "Failed upstream calls, by reason: timeout, unreachable, status (5xx), circuit-open "
    "(refused at once by the circuit breaker).",
    ["reason"],
)
UPSTREAM_DURATION = Histogram(
    "snapproxy_upstream_request_duration_seconds",
    "Time an upstream call took, to its answer's head.",
    ["method"],
    buckets=LATENCY_BUCKETS[:11],
)
CIRCUIT_OPEN = Gauge(
    "snapproxy_upstream_circuit_open",
    "1 while the upstream circuit breaker is open or half-open (calls fail fast until a "
    "trial call succeeds), 0 when closed.",
    multiprocess_mode="livemax",
)
CIRCUIT_OPENED = Counter(
    "snapproxy_upstream_circuit_opened_total",
    "Times the upstream circuit breaker opened.",
)

for _reason in ("timeout", "unreachable", "status", "circuit-open"):  # at zero from the start
    UPSTREAM_ERRORS.labels(_reason)
