"""What each page shows, from the admin API's answers (plain values for the templates)."""

from __future__ import annotations

import asyncio
from typing import Any

from services.devicegw.dashboard import admin_pages, cache_page
from services.devicegw.dashboard.admin_api import AdminApi, AdminApiError
from shared.settings import Settings
from shared.sizes import human_size
from shared.status_report import NOT_REGISTERED

DEVICES_SHOWN = 100
LOG_SHOWN = 100
OVERRIDDEN_SNAPS_SHOWN = 20


async def overview(api: AdminApi, settings: Settings) -> dict[str, Any]:
    """What ``snap-proxy status`` shows (Store ID and Status from ``internal.store.id``, as
    it reads them), the upstream and its circuit breakers, and in airgap mode the warnings
    ``status`` prints (what the imported snaps lack)."""
    configured_limit = settings.device_limit or None
    report, breakers = await asyncio.gather(api.status(configured_limit), admin_pages.breakers(api))
    figures = report.figures
    found = admin_pages.upstream(report, breakers)
    if found["airgap"] is None:  # devicegw's own answer failed: its settings say
        found["airgap"] = settings.airgap
    warnings: list[str] = []
    if found["airgap"]:
        try:
            warnings = (await admin_pages.offline(api))["missing"]
        except AdminApiError as exc:
            warnings = [f"the imported snaps cannot be checked ({exc.message})"]
    return {
        **found,
        "parts": report.parts,
        "healthy": report.healthy,
        "topology": {True: "embedded", False: "split", None: "unknown"}[report.embedded],
        "mode": "airgap (imported snaps only)" if found["airgap"] else "online",
        "warnings": warnings,
        "store_id": settings.store_id or NOT_REGISTERED,
        "registration": "approved" if settings.store_id else NOT_REGISTERED,
        "connected": figures.get("connected-devices"),
        "other_clients": figures.get("other-clients"),
        "device_limit": figures.get("device-limit", configured_limit),
        "figures_error": report.figures_error,
    }


async def cache(api: AdminApi) -> dict[str, Any]:
    stats, pinned, daily, fills = await asyncio.gather(
        api.call("GET", "/v1/cache/stats"),
        api.call("GET", "/v1/cache/pinned"),
        cache_page.daily(api),
        cache_page.fills(api),
    )
    totals = stats["totals"]
    asked = totals["hits"] + totals["misses"]
    top = cache_page.top_saved(stats["snaps"])
    return {
        "totals": totals,
        "hit_ratio": totals["hits"] / asked if asked else None,
        "used_ratio": totals["size"] / totals["max-size"] if totals["max-size"] else None,
        "disk": stats["disk"],
        "daily": daily,
        "chart": cache_page.chart(daily, human_size),
        "fills": fills,
        "top": top,
        "pinned": pinned["names"],
        # Suggestions for the forms' name field: the busiest snaps and the pinned ones.
        "suggested": sorted({row["name"] for row in top} | set(pinned["names"])),
    }


async def devices(api: AdminApi) -> dict[str, Any]:
    summary, listing = await asyncio.gather(
        api.call("GET", "/v1/devices/summary"),
        api.call("GET", "/v1/devices", params={"limit": DEVICES_SHOWN}),
    )
    return {"summary": summary, "devices": listing["devices"], "shown": DEVICES_SHOWN}


async def overrides(api: AdminApi) -> dict[str, Any]:
    """The audit log, and the current overrides of every snap it names (the admin API
    lists overrides per snap, with the upstream's revision in each channel)."""
    log = (await api.call("GET", "/v1/overrides/log", params={"limit": LOG_SHOWN}))["changes"]
    names = list(dict.fromkeys(change["snap_name"] for change in log))[:OVERRIDDEN_SNAPS_SHOWN]

    async def current(name: str) -> list[dict[str, Any]]:
        try:
            found: list[dict[str, Any]] = (await api.call("GET", f"/v2/metadata/overrides/{name}"))[
                "overrides"
            ]
        except AdminApiError as exc:
            if exc.status_code == 404:  # the snap is gone upstream and has no overrides
                return []
            raise
        return found

    per_snap = await asyncio.gather(*(current(name) for name in names))
    return {"overrides": [row for rows in per_snap for row in rows], "log": log}


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f} %"
