"""``/dashboard/``: HTML pages and forms. Caller: the admin, signed in with the admin token.

A page without a signed-in session redirects to the login page; a form (POST) whose CSRF
token does not match the session's is refused (403) and changes nothing. Every action goes
through the admin API (``admin_api``), as the CLI's commands do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources as package_files
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from services.devicegw.dashboard import cache_page, pages
from services.devicegw.dashboard.admin_api import AdminApi, AdminApiError
from services.devicegw.dashboard.sessions import COOKIE, PATH, Session, new_session
from services.devicegw.dashboard.site import DashboardSite
from shared.admin import check_admin_authorization
from shared.deps import dependency
from shared.errors import SnapProxyError
from shared.names import is_snap_name

router = APIRouter(prefix="/dashboard", include_in_schema=False)
SiteDep = Annotated[DashboardSite, Depends(dependency(DashboardSite))]
LOGIN = PATH + "login"
MAX_FORM_FIELDS = 8
_STYLE = (package_files.files(__package__) / "static" / "style.css").read_bytes()


def _to_login() -> RedirectResponse:
    return RedirectResponse(LOGIN, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the first value of each)."""
    text = (await request.body()).decode("utf-8", errors="replace")
    try:
        fields = parse_qs(text, max_num_fields=MAX_FORM_FIELDS, keep_blank_values=True)
    except ValueError:  # more fields than any form of ours has: no CSRF token, refused
        return {}
    return {name: values[0] for name, values in fields.items()}


async def render_page(
    request: Request,
    site: DashboardSite,
    template: str,
    load: Callable[[AdminApi], Awaitable[dict[str, Any]]],
    **extra: Any,
) -> Response:
    session = await site.admin_session(request)
    if session is None:
        return _to_login()
    try:
        async with site.api() as api:
            data = await load(api)
    except AdminApiError as exc:
        return site.render("problem.html", 502, session=session, page="", message=exc.message)
    return site.render(
        template, session=session, page=template.removesuffix(".html"), **data, **extra
    )


@router.get("/style.css")
async def style() -> Response:
    return Response(_STYLE, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


async def _login_page(
    request: Request, site: DashboardSite, error: str | None, status_code: int = 200
) -> Response:
    session = await site.session(request)
    if session is None or session.admin:
        session = new_session(admin=False)
    if await site.key() is None:
        error, status_code = "The admin API is disabled: set admin.token (snap-proxy config).", 403
    response = site.render("login.html", status_code, csrf=session.csrf, error=error)
    await site.set_session(request, response, session)
    return response


@router.get("/login")
async def login_form(request: Request, site: SiteDep) -> Response:
    if await site.admin_session(request) is not None:
        return RedirectResponse(PATH, status_code=303)
    return await _login_page(request, site, None)


@router.post("/login")
async def login(request: Request, site: SiteDep) -> Response:
    form = await _form(request)
    session = await site.session(request)
    if session is None or not session.csrf_matches(form.get("csrf")):
        error = "The login form expired or was not sent from this page: try again."
        return await _login_page(request, site, error, 403)
    try:
        check_admin_authorization(site.resources.settings, f"Bearer {form.get('token', '')}")
    except SnapProxyError:
        return await _login_page(request, site, "Wrong admin token.", 401)
    response = RedirectResponse(PATH, status_code=303)
    await site.set_session(request, response, new_session(admin=True))
    return response


async def checked_form(request: Request, site: DashboardSite) -> tuple[Session, dict[str, str]]:
    """The signed-in session and the form; raises FormRefused when either is missing or the
    form's CSRF token is not the session's."""
    session = await site.admin_session(request)
    if session is None:
        raise FormRefused(_to_login())
    form = await _form(request)
    if not session.csrf_matches(form.get("csrf")):
        message = "This form's CSRF token does not match your session: reload the page."
        raise FormRefused(
            site.render("problem.html", 403, session=session, page="", message=message)
        )
    return session, form


def refused_by_api(
    site: DashboardSite, session: Session, page: str, exc: AdminApiError
) -> Response:
    """The problem page for what the admin API refused (its 4xx as it is; anything else, the
    API not answering well, as 502), under ``page`` in the navigation."""
    status = exc.status_code if 400 <= exc.status_code < 500 else 502
    return site.render("problem.html", status, session=session, page=page, message=exc.message)


class FormRefused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


@router.post("/logout")
async def logout(request: Request, site: SiteDep) -> Response:
    try:
        await checked_form(request, site)
    except FormRefused as refused:
        return refused.response
    response = _to_login()
    response.delete_cookie(COOKIE, path=PATH)
    return response


@router.get("")
async def bare() -> Response:
    return RedirectResponse(PATH, status_code=308)


@router.get("/")
async def overview(request: Request, site: SiteDep) -> Response:
    settings = site.resources.settings
    return await render_page(
        request, site, "overview.html", lambda api: pages.overview(api, settings)
    )


@router.get("/cache")
async def cache(request: Request, site: SiteDep) -> Response:
    done = _done_message(
        request.query_params.get("done"),
        request.query_params.get("name"),
        request.query_params.get("count"),
    ) or cache_page.prefetch_message(request.query_params)
    return await render_page(request, site, "cache.html", pages.cache, done=done)


def _done_message(action: str | None, name: str | None, count: str | None) -> str | None:
    """What the last action did, from the redirect's query (only well-formed values)."""
    if not (name and is_snap_name(name) and count and count.isdigit()):
        return None
    wording = {"evict": "evicted", "pin": "pinned", "unpin": "unpinned"}.get(action or "")
    return f"{name}: {count} cached blob(s) {wording}" if wording else None


async def _cache_action(request: Request, site: DashboardSite, action: str) -> Response:
    try:
        session, form = await checked_form(request, site)
    except FormRefused as refused:
        return refused.response
    name = form.get("name", "").strip()
    try:
        async with site.api() as api:
            if action == "evict":
                evicted = await api.call("POST", "/v1/cache/evict", json={"name": name})
                count = len(evicted["evicted"])
            else:
                pin = {"name": name, "pinned": action == "pin"}
                count = (await api.call("POST", "/v1/cache/pin", json=pin))["entries"]
    except AdminApiError as exc:
        return refused_by_api(site, session, "cache", exc)
    query = urlencode({"done": action, "name": name, "count": count})
    return RedirectResponse(f"{PATH}cache?{query}", status_code=303)


@router.post("/cache/evict")
async def evict(request: Request, site: SiteDep) -> Response:
    return await _cache_action(request, site, "evict")


@router.post("/cache/pin")
async def pin(request: Request, site: SiteDep) -> Response:
    return await _cache_action(request, site, "pin")


@router.post("/cache/unpin")
async def unpin(request: Request, site: SiteDep) -> Response:
    return await _cache_action(request, site, "unpin")


@router.get("/devices")
async def devices(request: Request, site: SiteDep) -> Response:
    return await render_page(request, site, "devices.html", pages.devices)
