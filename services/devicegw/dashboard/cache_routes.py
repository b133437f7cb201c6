"""``/dashboard/cache``'s live part and prefetch. Caller: the admin, signed in (the session's
cookie; forms carry its CSRF token), as the other dashboard routes (``routes``).

- ``GET /dashboard/cache.js``: the page's few lines of script (same origin; CSP
  ``script-src 'self'``), which read the fills again every two seconds;
- ``GET /dashboard/cache/fills``: the fills in progress (JSON, the admin API's
  ``/v1/cache/fills``); without a session 401, never a redirect a script would follow;
- ``POST /dashboard/cache/prefetch``: fetch a channel's current revision into the cache. The
  revision is asked as a device asks (``POST /v2/snaps/refresh``, without the admin token,
  as ``snap-proxy cache prefetch`` does), then ``POST /v1/cache/prefetch`` starts its fill.
"""

from __future__ import annotations

import re
from importlib import resources as package_files
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.devicegw.dashboard.admin_api import AdminApi, AdminApiError
from services.devicegw.dashboard.routes import (
    FormRefused,
    SiteDep,
    checked_form,
    refused_by_api,
)
from services.devicegw.dashboard.sessions import PATH
from services.devicegw.dashboard.site import SECURITY_HEADERS
from shared.names import is_snap_name
from shared.upstream_lookup import channel_download_request

router = APIRouter(prefix="/dashboard", include_in_schema=False)
_SCRIPT = (package_files.files(__package__) / "static" / "cache.js").read_bytes()
CHANNEL = re.compile(r"[a-z0-9][a-z0-9./+_-]{0,99}")
ARCHITECTURE = re.compile(r"[a-z0-9]{1,16}")


@router.get("/cache.js")
async def script() -> Response:
    return Response(
        _SCRIPT, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"}
    )


@router.get("/cache/fills")
async def fills(request: Request, site: SiteDep) -> Response:
    if await site.admin_session(request) is None:
        return JSONResponse({"error": "sign in"}, 401, headers=SECURITY_HEADERS)
    try:
        async with site.api() as api:
            found = await api.call("GET", "/v1/cache/fills")
    except AdminApiError as exc:
        return JSONResponse({"error": exc.message}, 502, headers=SECURITY_HEADERS)
    return JSONResponse(found, headers=SECURITY_HEADERS)


async def current_revision(api: AdminApi, name: str, channel: str, arch: str) -> tuple[str, int]:
    """The download file name and revision a device of ``arch`` gets from ``channel``."""
    answer: dict[str, Any] = await api.as_device(
        "POST",
        "/v2/snaps/refresh",
        headers={
            "Snap-Device-Architecture": arch,
            "Snap-Device-Series": "16",
            "User-Agent": "snapproxy-dashboard",
        },
        json=channel_download_request(name, channel),
    )
    result = (answer.get("results") or [{}])[0]
    if result.get("result") == "error" or "snap" not in result:
        message = (result.get("error") or {}).get("message") or "not available"
        raise AdminApiError(404, f"{name} in {channel} for {arch}: {message}")
    snap = result["snap"]
    filename = urlsplit(str(snap["download"]["url"])).path.rsplit("/", 1)[-1]
    return filename, int(snap["revision"])


@router.post("/cache/prefetch")
async def prefetch(request: Request, site: SiteDep) -> Response:
    try:
        session, form = await checked_form(request, site)
    except FormRefused as refused:
        return refused.response
    name = form.get("name", "").strip()
    channel = form.get("channel", "").strip() or "latest/stable"
    arch = form.get("arch", "").strip() or "amd64"
    if not (is_snap_name(name) and CHANNEL.fullmatch(channel) and ARCHITECTURE.fullmatch(arch)):
        message = (
            "Prefetch needs a snap name, a channel (such as latest/stable) and an architecture."
        )
        return site.render("problem.html", 400, session=session, page="cache", message=message)
    try:
        async with site.api() as api:
            filename, revision = await current_revision(api, name, channel, arch)
            started = await api.call(
                "POST", "/v1/cache/prefetch", json={"filename": filename, "architecture": arch}
            )
    except AdminApiError as exc:
        return refused_by_api(site, session, "cache", exc)
    query = urlencode(
        {"done": "prefetch", "name": name, "revision": revision, "state": started["state"]}
    )
    return RedirectResponse(f"{PATH}cache?{query}", status_code=303)
