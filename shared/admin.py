"""The admin API's gate: ``Authorization: Bearer <SNAPPROXY_ADMIN_TOKEN>``.

Every admin path (``/v1/...``, ``/v2/metadata/...``) is gated by
``shared.admission.RequestAdmission`` before its body is read; routes also say so
(``shared.deps.require_admin``). With no token configured the admin API is closed (403); a
missing or wrong token gets 401 with ``WWW-Authenticate: Bearer``. Both answers are in the
Store's error shape.
"""

from __future__ import annotations

import secrets

from shared.errors import SnapProxyError, Unauthorized
from shared.settings import Settings

BEARER_CHALLENGE = 'Bearer realm="snapproxy"'
# The admin API's paths (devices use /v2/snaps/ and /api/v1/, services /_internal/), and the
# Snap Store Proxy's overrides API (/v2/metadata/overrides...).
ADMIN_PREFIX = "/v1/"
ADMIN_PREFIXES = (ADMIN_PREFIX, "/v2/metadata/")


def is_admin_path(path: str) -> bool:
    return path.startswith(ADMIN_PREFIXES) or path in {p.rstrip("/") for p in ADMIN_PREFIXES}


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
