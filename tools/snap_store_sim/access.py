"""Private snaps: the store credentials the simulator accepts, and grants for private blobs.

A request *carries store credentials* when it has ``Authorization: Macaroon ...`` (snapd's
user auth) or a non-empty ``Snap-Device-Authorization`` / ``X-Device-Authorization`` (a device
session). The simulator accepts only credentials it could have issued:

* **user auth**: ``TEST_USER_AUTHORIZATION``, i.e.
  ``Authorization: Macaroon root="snapsim-test-user-root", discharge="snapsim-test-user-discharge"``
  (``USER_AUTH_HEADERS`` is that header as a dict). It is the simulator's one store user.
* **device session**: ``Macaroon root="<session>"`` in ``Snap-Device-Authorization`` or
  ``X-Device-Authorization``, where ``<session>`` is a macaroon handed out by
  ``POST /api/v1/snaps/auth/sessions``: ``snapsim-session-<nonce>.<mac>``, the mac an HMAC of
  the nonce keyed by the data directory's secret (``DIR/keys/access.secret``). Sessions need
  no server-side record, stay valid across restarts and cannot be made up without the secret.
  ``device_authorization(DIR)`` mints one offline, for tests.

Anything else (another macaroon, ``Bearer``, a session of another data directory, malformed
values) counts as no credentials. One accepted credential is enough. Without accepted
credentials a private snap looks exactly like a snap that does not exist.

**Grants.** The download URL of a private blob redirects (only with accepted credentials) to
``/download-origin/<file>?expires=<unix time>&grant=<hex>``, the grant an HMAC of the file name
and the expiry keyed by the same secret, valid ``GRANT_SECONDS``. The CDN serves a private blob
only with an unexpired grant for that very file (403 otherwise); public blobs need none.

**Stats.** In ``/_sim/stats``, a private blob's ``blobs`` entry also counts ``api-granted``,
``api-refused`` and ``cdn-refused`` (``stats.PRIVATE_BLOB_EVENTS``); ``credentials`` shows
the credential header values the Store API was sent, accepted or not.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from .layout import DataDir, atomic_write

TEST_USER_ROOT = "snapsim-test-user-root"
TEST_USER_DISCHARGE = "snapsim-test-user-discharge"
TEST_USER_AUTHORIZATION = f'Macaroon root="{TEST_USER_ROOT}", discharge="{TEST_USER_DISCHARGE}"'
USER_AUTH_HEADERS = {"Authorization": TEST_USER_AUTHORIZATION}
SESSION_PREFIX = "snapsim-session-"
DEVICE_HEADERS = ("snap-device-authorization", "x-device-authorization")
GRANT_SECONDS = 3600
SECRET_BYTES = 32

_PARAM = re.compile(r'\s*([A-Za-z_]+)="([^"]*)"\s*(?:,|$)')


def secret_path(data: DataDir) -> Path:
    return data.keys / "access.secret"


def load_secret(data: DataDir) -> bytes:
    """The data directory's secret for sessions and grants, created on first use."""
    path = secret_path(data)
    if not path.exists():
        with data.locked():
            if not path.exists():
                atomic_write(path, secrets.token_bytes(SECRET_BYTES), mode=0o600)
    return path.read_bytes()


def _mac(secret: bytes, purpose: str, *parts: str) -> str:
    message = "\n".join((purpose, *parts)).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def issue_session(secret: bytes) -> str:
    """A new device-session macaroon (what ``/api/v1/snaps/auth/sessions`` returns)."""
    nonce = secrets.token_urlsafe(24)
    return f"{SESSION_PREFIX}{nonce}.{_mac(secret, 'session', nonce)}"


def session_valid(secret: bytes, session: str) -> bool:
    if not session.startswith(SESSION_PREFIX):
        return False
    nonce, dot, mac = session[len(SESSION_PREFIX) :].rpartition(".")
    return bool(dot and nonce) and hmac.compare_digest(mac, _mac(secret, "session", nonce))


def device_authorization(data_dir: Path | DataDir) -> str:
    """``Macaroon root="<new session>"``: a device-session header value the simulator on
    ``data_dir`` accepts (the same as one obtained from its sessions endpoint)."""
    data = data_dir if isinstance(data_dir, DataDir) else DataDir(data_dir)
    return f'Macaroon root="{issue_session(load_secret(data))}"'


def macaroon_params(value: str) -> dict[str, list[str]] | None:
    """The ``name="value"`` parameters of a ``Macaroon`` header value; None if it is not one."""
    scheme, _sep, rest = value.strip().partition(" ")
    if scheme.lower() != "macaroon" or not rest.strip():
        return None
    params: dict[str, list[str]] = {}
    position, rest = 0, rest.strip()
    while position < len(rest):
        match = _PARAM.match(rest, position)
        if match is None or match.end() == position:
            return None
        params.setdefault(match[1], []).append(match[2])
        position = match.end()
    return params


def _user_accepted(value: str) -> bool:
    params = macaroon_params(value)
    return (
        params is not None
        and params.get("root") == [TEST_USER_ROOT]
        and TEST_USER_DISCHARGE in params.get("discharge", [])
    )


def _device_accepted(secret: bytes, value: str) -> bool:
    params = macaroon_params(value)
    roots = params.get("root", []) if params else []
    return len(roots) == 1 and session_valid(secret, roots[0])


def accepted_credentials(headers: Mapping[str, str], secret: bytes) -> bool:
    """Whether the request carries at least one credential the simulator issued."""
    user = headers.get("authorization")
    if user and _user_accepted(user):
        return True
    return any(
        _device_accepted(secret, value)
        for value in (headers.get(name) for name in DEVICE_HEADERS)
        if value
    )


def grant_query(secret: bytes, file_name: str, now: float | None = None) -> str:
    """The query string that lets the CDN serve the private blob ``file_name``."""
    expires = str(int(now if now is not None else time.time()) + GRANT_SECONDS)
    return urlencode({"expires": expires, "grant": _mac(secret, "blob", file_name, expires)})


def grant_valid(secret: bytes, file_name: str, query: str, now: float | None = None) -> bool:
    """Whether ``query`` holds an unexpired grant for exactly ``file_name``."""
    params = parse_qs(query, keep_blank_values=True)
    expires, grant = params.get("expires", []), params.get("grant", [])
    if len(expires) != 1 or len(grant) != 1 or not expires[0].isdigit():
        return False
    if int(expires[0]) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(grant[0], _mac(secret, "blob", file_name, expires[0]))
