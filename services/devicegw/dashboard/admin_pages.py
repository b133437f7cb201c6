"""What the overview's upstream part and the Offline page show, from the admin API and the
services' status answers (plain values for the templates).

Upstream reachability is each service's ``upstream`` check in its ``/_status/check``
answer (the one ``snap-proxy status`` reads; the gathering keeps it); the circuit breaker is
each service's ``/_status/<service>/upstream`` (``shared.upstream_status``): in the split
topology every service process has a breaker of its own, the embedded default's services
share one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.devicegw.dashboard.admin_api import AdminApi, AdminApiError
from shared.settings import SERVICE_NAMES
from shared.status_report import DISPLAY_NAMES, StatusReport


def _reachability(body: Any) -> tuple[str, bool | None]:
    """(what the service's upstream check said, reachable?); None: no upstream check."""
    checks = body.get("checks") if isinstance(body, dict) else None
    found = checks.get("upstream") if isinstance(checks, dict) else None
    if not isinstance(found, dict):
        return "", None
    if found.get("ok"):
        return "reachable", True
    return str(found.get("error", "unreachable")), False


async def _breaker(api: AdminApi, service: str) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = await api.call("GET", f"/_status/{service}/upstream")
    except AdminApiError as exc:
        return {"state": "unknown", "error": exc.message, "airgap": None}
    return {**answer["breaker"], "airgap": answer["airgap"]}


async def breakers(api: AdminApi) -> list[dict[str, Any]]:
    """Each service's breaker (``SERVICE_NAMES``' order), asked all at once; in the embedded
    default, where the services share one, asked once."""
    if api.embedded:
        return [await _breaker(api, "devicegw")] * len(SERVICE_NAMES)
    return list(await asyncio.gather(*(_breaker(api, name) for name in SERVICE_NAMES)))


def upstream(report: StatusReport, breakers: list[dict[str, Any]]) -> dict[str, Any]:
    """One row per service: the upstream check's word, the breaker's state; the mode the
    services run in (``proxy.airgap`` as devicegw sees it now)."""
    rows = []
    for name, breaker in zip(SERVICE_NAMES, breakers, strict=True):
        said, reachable = _reachability(report.checks.get(name))
        rows.append(
            {
                "service": DISPLAY_NAMES[name],
                "check": said,
                "reachable": reachable,
                "breaker": breaker,
            }
        )
    airgap = breakers[SERVICE_NAMES.index("devicegw")]["airgap"]
    checked = [row["reachable"] for row in rows if row["reachable"] is not None]
    if airgap:
        summary = "not contacted (airgap mode)"
    elif not checked:
        summary = "unknown (no service answered its check)"
    else:
        summary = "reachable" if all(checked) else "unreachable"
    return {"upstream_rows": rows, "upstream_summary": summary, "airgap": airgap}


async def offline(api: AdminApi) -> dict[str, Any]:
    """The imported snaps and what airgap mode lacks (``GET /v1/pushed-snaps``)."""
    pushed: dict[str, Any] = await api.call("GET", "/v1/pushed-snaps")
    return {"snaps": pushed["snaps"], "missing": pushed["missing"], "airgap": pushed["airgap"]}
