"""``/_status/ping`` (no I/O) and ``/_status/check`` (each dependency, concurrently)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shared import __version__

Check = Callable[[], Awaitable[None]]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def run_check(check: Check, timeout: float) -> dict[str, Any]:
    """Run one check with a timeout; never raises."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            await check()
    except Exception as exc:
        result: dict[str, Any] = {"ok": False, "error": _describe(exc)}
    else:
        result = {"ok": True}
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def run_checks(checks: Mapping[str, Check], timeout: float) -> dict[str, dict[str, Any]]:
    names = list(checks)
    results = await asyncio.gather(*(run_check(checks[name], timeout) for name in names))
    return dict(zip(names, results, strict=True))


def health_router(service: str) -> APIRouter:
    """The status routes of one service; its checks live in ``app.state.checks``."""
    router = APIRouter(prefix="/_status", include_in_schema=False)

    @router.api_route("/ping", methods=["GET", "HEAD"])
    async def ping() -> dict[str, str]:
        return {"service": service, "version": __version__, "status": "ok"}

    @router.get("/check")
    async def check(request: Request) -> JSONResponse:
        checks: dict[str, Check] = request.app.state.checks
        informational: dict[str, Check] = request.app.state.informational_checks
        timeout: float = request.app.state.resources.settings.check_timeout
        results = await run_checks({**checks, **informational}, timeout)
        healthy = all(results[name]["ok"] for name in checks)
        for name in informational:
            results[name]["required"] = False
        body = {
            "service": service,
            "version": __version__,
            "status": "ok" if healthy else "failing",
            "checks": results,
        }
        return JSONResponse(body, status_code=200 if healthy else 503)

    return router
