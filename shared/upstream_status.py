"""``GET /_status/upstream``: how this process sees the upstream store, without asking it.

Caller: public, like ``/_status/ping`` and ``/_status/check`` (monitoring, the dashboard's
overview, through the gateway as ``/_status/<service>/upstream``). No I/O: the upstream
client's circuit breaker as it is now (``shared.upstream.CircuitBreaker.state``) and whether
airgap mode keeps the upstream out of reach. It never names the upstream's URL (which may
hold credentials), as the checks do not. Each process has its own breaker; the embedded
default's five services share one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

if TYPE_CHECKING:
    from shared.app import Resources


def upstream_status_router(service: str, resources: Resources) -> APIRouter:
    router = APIRouter(prefix="/_status", include_in_schema=False)

    @router.get("/upstream")
    async def upstream() -> dict[str, Any]:
        return {
            "service": service,
            "airgap": resources.settings.airgap,
            "breaker": resources.upstream.breaker.state(),
        }

    return router
