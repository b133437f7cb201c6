"""The admin API's gate: ``Authorization: Bearer <SNAPPROXY_ADMIN_TOKEN>``.

Use it on a router or a route: ``dependencies=[Depends(require_admin)]``. With no token
configured the admin API is closed (403); a missing or wrong token gets 401 with
``WWW-Authenticate: Bearer``. Both answers are in the Store's error shape.
"""

from __future__ import annotations

import secrets

from fastapi import Request

from shared.errors import SnapProxyError, Unauthorized
from shared.settings import Settings

BEARER_CHALLENGE = 'Bearer realm="snapproxy"'


class AdminDisabled(SnapProxyError):
    status_code = 403
    code = "forbidden"


def _unauthorized(message: str) -> Unauthorized:
    error = Unauthorized(message)
    error.headers["WWW-Authenticate"] = BEARER_CHALLENGE
    return error


def check_admin_authorization(settings: Settings, authorization: str | None) -> None:
    """Raise unless ``authorization`` carries the configured admin token."""
    token = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if not token:
        raise AdminDisabled("the admin API is disabled: set SNAPPROXY_ADMIN_TOKEN to enable it")
    if not authorization:
        raise _unauthorized("the admin API needs an Authorization: Bearer <token> header")
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise _unauthorized("the admin API needs an Authorization: Bearer <token> header")
    # Header values arrive latin-1 decoded; compare the raw bytes in constant time.
    given = credentials.strip().encode("latin-1", errors="replace")
    if not secrets.compare_digest(given, token.encode("utf-8")):
        raise _unauthorized("invalid admin token")


async def require_admin(request: Request) -> None:
    """FastAPI dependency: the request must carry ``Authorization: Bearer <admin token>``."""
    settings: Settings = request.app.state.resources.settings
    check_admin_authorization(settings, request.headers.get("authorization"))
