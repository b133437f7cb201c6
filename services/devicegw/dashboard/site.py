"""The dashboard's parts that outlive a request: templates, the routed admin API, the key."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from services.devicegw.dashboard import pages
from services.devicegw.dashboard.admin_api import AdminApi, RoutedTransport
from services.devicegw.dashboard.sessions import (
    COOKIE,
    LIFETIME_SECONDS,
    PATH,
    Session,
    seal,
    signing_key,
    unseal,
)
from shared.app import Resources
from shared.sizes import human_size, signed_size

# Pages are the admin's only: never cached, never framed, nothing loaded from elsewhere.
# Scripts: only the suite's own files (the cache page's live fills), no inline script.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class DashboardSite:
    def __init__(self, resources: Resources, topology: str = "split") -> None:
        self.resources = resources
        self.transport = RoutedTransport(resources.peers, topology)
        # The templates ship in the package: compiled once, here (7 to 14 ms each, which the
        # first view of a page paid), and never looked at again on disk (auto_reload).
        self.templates = Environment(
            loader=PackageLoader("services.devicegw.dashboard"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            auto_reload=False,
        )
        self.templates.filters["size"] = human_size
        self.templates.filters["percent"] = pages.percent
        self.templates.filters["signed_size"] = signed_size
        for name in self.templates.list_templates(extensions=["html"]):
            self.templates.get_template(name)

    def set_topology(self, topology: str) -> None:
        """The embedded gateway says so once it has built the services."""
        self.transport.topology = topology

    @property
    def admin_token(self) -> str | None:
        token = self.resources.settings.admin_token
        return token.get_secret_value() if token is not None else None

    async def key(self) -> bytes | None:
        """The session key; None while no admin token is set (the dashboard is closed)."""
        token = self.admin_token
        if not token:
            return None
        return signing_key(await self.resources.internal_secret.get(), token)

    async def session(self, request: Request) -> Session | None:
        key = await self.key()
        return None if key is None else unseal(request.cookies.get(COOKIE), key)

    async def admin_session(self, request: Request) -> Session | None:
        found = await self.session(request)
        return found if found is not None and found.admin else None

    def api(self) -> AdminApi:
        settings = self.resources.settings
        return AdminApi(self.transport, self.admin_token or "", settings.upstream_timeout + 5)

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)

    async def set_session(self, request: Request, response: Response, session: Session) -> None:
        key = await self.key()
        if key is None:
            return
        secure = self.resources.settings.tls_enabled or request.url.scheme == "https"
        response.set_cookie(
            COOKIE,
            seal(session, key),
            max_age=LIFETIME_SECONDS,
            path=PATH,
            secure=secure,
            httponly=True,
            samesite="strict",
        )
