"""The one table of path prefixes and the service that answers them.

The embedded dispatcher routes with it and the nginx gateway config is rendered from it, so
both topologies agree. The longest matching prefix wins (as nginx's ``^~`` locations do).
Every prefix has a handler, and every public handler is under a prefix of its service
(``tests/foundation/test_routes.py`` walks both ways): a prefix is added together with its
routes. The revisions service's public paths are the overrides' admin API and the imported
snaps' list.
"""

from __future__ import annotations

from typing import NamedTuple

from shared.settings import SERVICE_NAMES


class Route(NamedTuple):
    prefix: str
    service: str


ROUTES: tuple[Route, ...] = (
    Route("/v2/snaps/", "devicegw"),
    Route("/api/v1/snaps/sections", "devicegw"),
    Route("/api/v1/snaps/names", "devicegw"),
    Route("/client-setup.sh", "devicegw"),
    Route("/v1/clients", "devicegw"),
    Route("/dashboard", "devicegw"),  # the admin's web dashboard (signed-in session)
    Route("/api/v1/snaps/download/", "downloads"),
    Route("/download/", "downloads"),
    Route("/v1/cache", "downloads"),
    Route("/v2/assertions/", "assertions"),
    Route("/api/v1/snaps/assertions/", "assertions"),
    Route("/api/v1/snaps/auth/", "auth"),
    Route("/v2/auth/", "auth"),
    Route("/v1/children", "auth"),
    Route("/v1/devices", "auth"),
    Route("/v2/metadata/overrides", "revisions"),
    Route("/v1/overrides", "revisions"),
    Route("/v1/pushed-snaps", "revisions"),  # the imported snaps (admin, read-only)
    Route("/docs", "devicegw"),  # the documentation, rendered (public)
)

STATUS_PREFIX = "/_status/"

assert {route.service for route in ROUTES} <= set(SERVICE_NAMES)
_BY_LENGTH = sorted(ROUTES, key=lambda route: len(route.prefix), reverse=True)


def service_for_path(path: str) -> str | None:
    """The service that answers ``path``, or None when no route matches."""
    for route in _BY_LENGTH:
        if path.startswith(route.prefix):
            return route.service
    return None


def status_target(path: str) -> tuple[str, str] | None:
    """``/_status/<service>/<rest>`` -> (service, ``/_status/<rest>``); else None."""
    if not path.startswith(STATUS_PREFIX):
        return None
    service, _, rest = path[len(STATUS_PREFIX) :].partition("/")
    if service in SERVICE_NAMES and rest:
        return service, STATUS_PREFIX + rest
    return None
