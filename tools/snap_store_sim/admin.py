"""``/_sim/*``: run-time faults, statistics and catalogue inspection."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .faults import FaultError, Faults
from .httputil import state_of
from .responses import invalid_request, json_response, store_error


async def get_faults(request: Request) -> Response:
    return json_response(state_of(request).faults.current.to_json())


async def set_faults(request: Request) -> Response:
    """PUT replaces every setting (missing ones take defaults); PATCH merges."""
    state = state_of(request)
    try:
        payload = json.loads(await request.body() or b"{}")
        base = state.faults.current if request.method == "PATCH" else None
        faults = Faults.from_json(payload, base)
    except (ValueError, UnicodeDecodeError) as exc:
        message = str(exc) if isinstance(exc, FaultError) else "body is not valid JSON"
        return invalid_request(message)
    state.faults.set(faults)
    return json_response(faults.to_json())


async def clear_faults(request: Request) -> Response:
    state = state_of(request)
    state.faults.set(Faults())
    return json_response(state.faults.current.to_json())


async def stats(request: Request) -> Response:
    return json_response(state_of(request).stats.to_json())


async def reset(request: Request) -> Response:
    state = state_of(request)
    state.stats.reset()
    return json_response(state.stats.to_json())


async def catalogue(request: Request) -> Response:
    """The catalogue; ``?wait=1`` first waits for every pending (lazy) build."""
    state = state_of(request)
    current = state.catalogue()
    if request.query_params.get("wait") in ("1", "true"):
        try:
            current = await state.wait_built({rev.file for _s, rev in current.pending()})
        except (TimeoutError, RuntimeError) as exc:
            return store_error(503, str(exc))
    return json_response(current.to_json())


async def health(request: Request) -> Response:
    state = state_of(request)
    errors = state.builds.errors if state.builds else {}
    pending = [rev.file for _s, rev in state.catalogue().pending()]
    return json_response({"ok": not errors, "pending": pending, "build-errors": errors})


ROUTES = [
    Route("/_sim/faults", get_faults, methods=["GET"]),
    Route("/_sim/faults", set_faults, methods=["PUT", "PATCH"]),
    Route("/_sim/faults", clear_faults, methods=["DELETE"]),
    Route("/_sim/stats", stats, methods=["GET"]),
    Route("/_sim/stats", reset, methods=["DELETE"]),
    Route("/_sim/reset", reset, methods=["POST"]),
    Route("/_sim/catalogue", catalogue, methods=["GET"]),
    Route("/_sim/health", health, methods=["GET"]),
]
