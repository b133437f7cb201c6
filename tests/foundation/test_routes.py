"""The route table (``shared.routes``) against the handlers the services really have."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from shared.embedded import EmbeddedGateway
from shared.routes import ROUTES, service_for_path, status_target
from shared.settings import SERVICE_NAMES, Settings

# Paths a service answers that are not for devices or the admin: its status routes (the
# gateway reaches them as /_status/<service>/...), the internal API and /metrics (for the
# monitoring system, on the service's own port: never routed) and FastAPI's own schema
# document.
NOT_PUBLIC = ("/_status/", "/_internal/", "/metrics")


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v2/snaps/refresh", "devicegw"),
        ("/v2/snaps/info/hello", "devicegw"),
        ("/api/v1/snaps/sections", "devicegw"),
        ("/api/v1/snaps/names", "devicegw"),
        ("/client-setup.sh", "devicegw"),
        ("/api/v1/snaps/download/abc_1.snap", "downloads"),
        ("/download/abc_1.snap", "downloads"),
        ("/v2/assertions/account/canonical", "assertions"),
        ("/api/v1/snaps/assertions/account/x", "assertions"),
        ("/api/v1/snaps/auth/nonces", "auth"),
        ("/v1/devices", "auth"),
        ("/v2/auth/store/assertions", "auth"),
        ("/v1/cache/stats", "downloads"),
        ("/v2/metadata/overrides/hello", "revisions"),
        ("/v1/overrides/log", "revisions"),
        # Dropped: no service has handlers for them.
        ("/api/v1/snaps/search", None),
        ("/api/v1/snaps/details/hello", None),
        ("/api/v1/snaps/metadata", None),
        ("/v2/metadata/x", None),
        ("/v1/override", None),
        ("/nope", None),
        ("/", None),
    ],
)
def test_longest_prefix_wins(path: str, service: str | None) -> None:
    assert service_for_path(path) == service


def test_status_paths_are_rewritten_per_service() -> None:
    assert status_target("/_status/auth/check") == ("auth", "/_status/check")
    assert status_target("/_status/downloads/ping") == ("downloads", "/_status/ping")
    assert status_target("/_status/check") is None
    assert status_target("/_status/nosuch/check") is None


@pytest.fixture(scope="module")
def service_apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FastAPI]]:
    """The five apps as the embedded default builds them (nothing connects)."""
    data_dir: Path = tmp_path_factory.mktemp("routes")
    gateway = EmbeddedGateway(Settings(data_dir=data_dir))
    yield gateway.apps
    asyncio.run(gateway.resources.aclose())


def public_paths(app: FastAPI) -> list[str]:
    """The path of every handler a client may reach through the gateway, parameters filled."""
    paths = []
    for route in iter_route_contexts(app.routes):
        assert route.path is not None, route
        if route.path.startswith(NOT_PUBLIC) or route.path == app.openapi_url:
            continue
        paths.append(re.sub(r"\{[^}]*\}", "x", route.path))
    return paths


def test_every_public_handler_is_routed_to_its_service(
    service_apps: dict[str, FastAPI],
) -> None:
    unrouted = [
        (service, path, service_for_path(path))
        for service, app in service_apps.items()
        for path in public_paths(app)
        if service_for_path(path) != service
    ]
    assert not unrouted, f"(service, handler path, routed to): {unrouted}"
    assert any(public_paths(app) for app in service_apps.values())


def test_every_prefix_has_a_handler(service_apps: dict[str, FastAPI]) -> None:
    dead = [
        route
        for route in ROUTES
        if not any(
            path.startswith(route.prefix) and service_for_path(path) == route.service
            for path in public_paths(service_apps[route.service])
        )
    ]
    assert not dead, f"prefixes no handler answers: {dead}"


def test_routed_services_are_services() -> None:
    assert {route.service for route in ROUTES} <= set(SERVICE_NAMES)
    assert {route.service for route in ROUTES} == set(SERVICE_NAMES)


def test_no_service_route_can_take_a_status_path(service_apps: dict[str, FastAPI]) -> None:
    """A service's own routes come first (shared/app.py): none of them may match a path of
    the status, metrics and upstream routes every service shares."""
    shared_paths = {
        re.sub(r"\{[^}]*\}", "x", route.path)
        for app in service_apps.values()
        for route in iter_route_contexts(app.routes)
        if route.path is not None and route.path.startswith(("/_status/", "/metrics"))
    }
    assert {"/_status/ping", "/_status/check", "/metrics"} <= shared_paths
    taken = [
        (service, route.path, path)
        for service, app in service_apps.items()
        for route in iter_route_contexts(app.routes)
        if route.path is not None and not route.path.startswith(("/_status/", "/metrics"))
        for path in shared_paths
        if re.fullmatch(re.sub(r"\{[^}:]*(:path)?\}", ".+", route.path), path)
    ]
    assert not taken, f"(service, route, status path it would take): {taken}"
