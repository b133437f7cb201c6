"""``/dashboard/overrides`` (with its forms: set and delete) and ``/dashboard/offline``.
Caller: the admin, signed in with the admin token (``routes``: a page without a session
goes to the login page; a form whose CSRF token is not the session's is refused, 403).

Overrides are set and deleted with ``POST /v2/metadata/overrides``, the admin API
``snap-proxy override`` and ``delete-override`` call, with the same items; the audit log
names the dashboard as the actor. The admin API's refusal (an unknown snap or revision, a
bad channel) is shown on a page of its own, with its status.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from services.devicegw.dashboard import admin_pages, pages
from services.devicegw.dashboard.admin_api import AdminApiError
from services.devicegw.dashboard.routes import (
    FormRefused,
    SiteDep,
    checked_form,
    refused_by_api,
    render_page,
)
from services.devicegw.dashboard.sessions import PATH, Session
from services.devicegw.dashboard.site import DashboardSite
from shared.names import MAX_REVISION, is_snap_name

router = APIRouter(prefix="/dashboard", include_in_schema=False)
ACTOR = {"X-Snapproxy-Actor": "dashboard"}  # in the audit log: "dashboard from ADDRESS"


@router.get("/overrides")
async def overrides(request: Request, site: SiteDep) -> Response:
    done = _done_message(request.query_params.get("done"), request.query_params.get("name"))
    return await render_page(request, site, "overrides.html", pages.overrides, done=done)


def _done_message(action: str | None, name: str | None) -> str | None:
    if not (name and is_snap_name(name)):
        return None
    wording = {"set": "override set", "delete": "override deleted"}.get(action or "")
    return f"{name}: {wording}" if wording else None


def _problem(site: DashboardSite, session: Session, status: int, message: str) -> Response:
    return site.render("problem.html", status, session=session, page="overrides", message=message)


async def _change(request: Request, site: DashboardSite, action: str) -> Response:
    try:
        session, form = await checked_form(request, site)
    except FormRefused as refused:
        return refused.response
    name, channel = form.get("name", "").strip(), form.get("channel", "").strip()
    revision: int | None = None
    if action == "set":
        text = form.get("revision", "").strip()
        if not text.isdigit() or not 0 < int(text) <= MAX_REVISION:
            return _problem(site, session, 400, f"revision {text[:20]!r}: give a number, e.g. 42")
        revision = int(text)
    item = {"snap_name": name, "channel": channel, "revision": revision, "series": "16"}
    try:
        async with site.api() as api:
            await api.call("POST", "/v2/metadata/overrides", json=[item], headers=ACTOR)
    except AdminApiError as exc:
        return refused_by_api(site, session, "overrides", exc)
    query = urlencode({"done": action, "name": name})
    return RedirectResponse(f"{PATH}overrides?{query}", status_code=303)


@router.post("/overrides/set")
async def set_override(request: Request, site: SiteDep) -> Response:
    return await _change(request, site, "set")


@router.post("/overrides/delete")
async def delete_override(request: Request, site: SiteDep) -> Response:
    return await _change(request, site, "delete")


@router.get("/offline")
async def offline(request: Request, site: SiteDep) -> Response:
    return await render_page(request, site, "offline.html", admin_pages.offline)
