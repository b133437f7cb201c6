"""The dashboard's session cookie: signed, expiring, with the CSRF token of its forms.

A cookie is ``<payload>.<signature>``: the payload is base64url JSON (``admin``: signed in,
``csrf``: the token every form carries, ``exp``: Unix time it ends), the signature an
HMAC-SHA256 of it. The key is derived from the internal secret and the admin token, so a
cookie is good only on this suite and dies when either changes. Written with the standard
library's ``hmac`` rather than a session library: a dozen lines, and no new dependency on
what signs the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

COOKIE = "snapproxy_dashboard"
LIFETIME_SECONDS = 8 * 3600
PATH = "/dashboard/"


@dataclass(frozen=True)
class Session:
    admin: bool
    csrf: str
    expires: int

    def csrf_matches(self, given: str | None) -> bool:
        return bool(given) and secrets.compare_digest(self.csrf.encode(), (given or "").encode())


def new_session(admin: bool, now: float | None = None) -> Session:
    expires = int((time.time() if now is None else now) + LIFETIME_SECONDS)
    return Session(admin=admin, csrf=secrets.token_urlsafe(32), expires=expires)


def signing_key(internal_secret: str, admin_token: str) -> bytes:
    token_digest = hashlib.sha256(admin_token.encode()).digest()
    return hmac.new(
        internal_secret.encode(), b"snapproxy dashboard session\0" + token_digest, "sha256"
    ).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def seal(session: Session, key: bytes) -> str:
    payload = json.dumps({"admin": session.admin, "csrf": session.csrf, "exp": session.expires})
    encoded = _b64(payload.encode())
    signature = _b64(hmac.new(key, encoded.encode(), "sha256").digest())
    return f"{encoded}.{signature}"


def unseal(cookie: str | None, key: bytes, now: float | None = None) -> Session | None:
    """The session in ``cookie``; None when it is missing, forged, malformed or expired."""
    if not cookie or cookie.count(".") != 1 or len(cookie) > 4096:
        return None
    encoded, signature = cookie.split(".")
    expected = _b64(hmac.new(key, encoded.encode(), "sha256").digest())
    if not secrets.compare_digest(expected.encode(), signature.encode()):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        session = Session(
            admin=payload["admin"] is True, csrf=str(payload["csrf"]), expires=int(payload["exp"])
        )
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires <= (time.time() if now is None else now):
        return None
    return session
