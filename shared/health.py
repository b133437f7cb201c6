"""``/_status/ping`` (no I/O) and ``/_status/check`` (each dependency, concurrently)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from shared import __version__

Check = Callable[[], Awaitable[None]]
# Set when the process was told to stop (``shared.serving.DrainingServer``): it still
# serves, but its readiness check fails, so that load balancers stop sending it requests.
draining = threading.Event()


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


@dataclass(frozen=True)
class _Registered:
    check: Check
    required: bool


class HealthChecks:
    """The one registry of a service's health checks (dockerflow's ``register``).

    ``/_status/check`` runs every check concurrently, each with a timeout. A required check
    that fails makes the answer 503; the others are reported with ``"required": false`` and
    never fail it (the upstream store: the proxy keeps serving what it has while it is away).
    """

    def __init__(self) -> None:
        self._checks: dict[str, _Registered] = {}

    def register(self, name: str, check: Check, *, required: bool = True) -> None:
        if name in self._checks:
            raise ValueError(f"a health check named {name!r} is already registered")
        self._checks[name] = _Registered(check, required)

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    async def run(self, timeout: float) -> tuple[bool, dict[str, dict[str, Any]]]:
        """(healthy, each check's result); never raises."""
        names = list(self._checks)
        results = await asyncio.gather(
            *(run_check(self._checks[name].check, timeout) for name in names)
        )
        by_name = dict(zip(names, results, strict=True))
        healthy = True
        for name, registered in self._checks.items():
            if not registered.required:
                by_name[name]["required"] = False
            elif not by_name[name]["ok"]:
                healthy = False
        return healthy, by_name


def health_router(service: str, checks: HealthChecks, timeout: float) -> APIRouter:
    """The status routes of one service, running ``checks`` with ``timeout`` each."""
    router = APIRouter(prefix="/_status", include_in_schema=False)

    @router.api_route("/ping", methods=["GET", "HEAD"])
    async def ping() -> dict[str, str]:
        return {"service": service, "version": __version__, "status": "ok"}

    @router.get("/check")
    async def check() -> JSONResponse:
        if draining.is_set():
            stopping = {"service": service, "version": __version__, "status": "draining"}
            return JSONResponse(stopping, status_code=503, headers={"Retry-After": "1"})
        healthy, results = await checks.run(timeout)
        body = {
            "service": service,
            "version": __version__,
            "status": "ok" if healthy else "failing",
            "checks": results,
        }
        return JSONResponse(body, status_code=200 if healthy else 503)

    return router
