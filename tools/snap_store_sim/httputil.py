"""Small request helpers shared by the API handlers."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request

from .access import accepted_credentials
from .state import SimState


def state_of(request: Request) -> SimState:
    return cast(SimState, request.app.state.sim)


def credentialed(request: Request) -> bool:
    """Whether the request carries store credentials the simulator issued (``access.py``)."""
    return accepted_credentials(request.headers, state_of(request).secret)


def host_of(request: Request) -> str:
    host = request.headers.get("host")
    if host:
        return host
    server = request.scope.get("server") or ("127.0.0.1", 80)
    return f"{server[0]}:{server[1]}"


def base_url(request: Request) -> str:
    """``scheme://host[:port]`` as the client addressed us (for absolute URLs)."""
    scheme = request.headers.get("x-forwarded-proto") or request.url.scheme
    return f"{scheme}://{host_of(request)}"


def architecture(request: Request) -> str | None:
    """The device architecture: query ``architecture``, then the v2 and v1 headers."""
    return (
        request.query_params.get("architecture")
        or request.headers.get("snap-device-architecture")
        or request.headers.get("x-ubuntu-architecture")
        or None
    )
