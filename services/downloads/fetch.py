"""Asking the upstream for one blob, following redirects only where the allow-list says.

The allow-list (``shared.egress``) is checked for the recorded URL and again for every
redirect: scheme, host and port, never a host a client chose. A private blob is asked for
with the requester's store credentials, sent to the upstream's own origin only: a redirect
to a CDN never carries them.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import structlog

from services.downloads.errors import FillError
from shared.outbound import Outbound

log = structlog.get_logger(__name__)

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def origin_of(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def userinfo_authorization(url: str) -> dict[str, str]:
    """Basic auth for an upstream URL that carries a user and password (an authenticating
    gateway in front of the store): the metadata client sends it, so do blob fetches."""
    parts = urlsplit(url)
    if not parts.username:
        return {}
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def blob_credentials(credentials: Mapping[str, str]) -> dict[str, str]:
    """A requester's store credentials as a blob download sends them (snapd's v1 names)."""
    found = {}
    if "Authorization" in credentials:
        found["Authorization"] = credentials["Authorization"]
    if "Snap-Device-Authorization" in credentials:
        found["X-Device-Authorization"] = credentials["Snap-Device-Authorization"]
    return found


async def open_upstream_blob(
    client: httpx.AsyncClient,
    url: str,
    *,
    allows: Callable[[str], bool],
    byte_range: tuple[int, int] | None = None,
    credentials: Mapping[str, str] | None = None,
    upstream_url: str = "",
    outbound: Outbound | None = None,
) -> httpx.Response:
    """GET ``url`` (a byte range of it if given) as a stream; the caller closes it.

    ``credentials`` (a private blob's requester's) go only to ``upstream_url``, the
    upstream's own URL. FillError when the upstream cannot be reached, redirects off the
    allow-list, or answers anything but 200 (or 206 for a range); ``outbound`` (the way the
    client goes out) tells a forward proxy down or an untrusted certificate apart."""
    headers = {"User-Agent": "snapproxy"}
    if byte_range is not None:
        headers["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
    private = blob_credentials(credentials or {})
    if "Authorization" not in private:
        private.update(userinfo_authorization(upstream_url))
    upstream = origin_of(upstream_url) if upstream_url else None
    for _ in range(MAX_REDIRECTS + 1):
        if not allows(url):
            log.warning("downloads.origin_refused", origin=_where(url))
            raise FillError("the upstream store sent this download to an origin not allowed")
        sent = {**headers, **private} if private and origin_of(url) == upstream else headers
        try:
            response = await client.send(
                client.build_request("GET", url, headers=sent), stream=True
            )
        except httpx.HTTPError as exc:
            reason = (outbound or Outbound()).failure_reason(exc)
            log.warning("downloads.upstream_failed", origin=_where(url), reason=reason)
            raise FillError(f"upstream unreachable: {reason}") from None
        if response.status_code in REDIRECTS and "location" in response.headers:
            url = urljoin(url, response.headers["location"])
            await response.aclose()
            continue
        if response.status_code not in (200, 206):
            await response.aclose()
            raise FillError(f"upstream answered {response.status_code}")
        return response
    raise FillError("too many redirects")
