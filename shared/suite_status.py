"""The whole suite's health: every service's ``/_status/check``, asked concurrently.

Every service serves ``/_status/suite``; the gateway maps its ``/_status/check`` there, so the
answer comes from whichever service is up and reports the others truthfully.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from shared import __version__


async def service_status(client: httpx.AsyncClient, path: str = "/_status/check") -> dict[str, Any]:
    """One service's check result; a service that does not answer is reported as such."""
    try:
        response = await client.get(path)
    except httpx.HTTPError as exc:
        return {"ok": False, "error": f"not reachable: {type(exc).__name__}: {exc}".strip()}
    try:
        detail = response.json()
    except ValueError:
        detail = {"body": response.text[:200]}
    result: dict[str, Any] = {
        "ok": response.status_code == 200,
        "status_code": response.status_code,
    }
    if isinstance(detail, dict) and "checks" in detail:
        result["checks"] = detail["checks"]
        failing = [name for name, check in detail["checks"].items() if not check.get("ok")]
        if failing:
            result["error"] = "failing: " + ", ".join(failing)
    elif response.status_code != 200:
        result["error"] = f"HTTP {response.status_code}"
    return result


async def suite_status(peers: Mapping[str, httpx.AsyncClient]) -> dict[str, Any]:
    names = list(peers)
    results = await asyncio.gather(*(service_status(peers[name]) for name in names))
    services = dict(zip(names, results, strict=True))
    healthy = bool(services) and all(result["ok"] for result in services.values())
    return {"status": "ok" if healthy else "failing", "version": __version__, "services": services}


def suite_status_router(peers: Mapping[str, httpx.AsyncClient]) -> APIRouter:
    """``/_status/suite``: every service in ``peers`` (filled in as the suite is built)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/_status/suite")
    async def suite() -> JSONResponse:
        body = await suite_status(peers)
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    return router
