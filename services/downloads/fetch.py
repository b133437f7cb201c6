"""Fetching one blob from upstream into a partial file, hashing as it goes.

Redirects are followed only to allowed hosts: the upstream's own, the host of the URL the
upstream's answer gave, and the configured CDN patterns -- never a host from a client.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx

MAX_REDIRECTS = 5
CHUNK = 256 * 1024


class FillError(Exception):
    """The upstream did not deliver the exact bytes recorded; nothing is cached."""


def host_allowed(url: str, allowed_hosts: set[str], patterns: tuple[str, ...]) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    return host in allowed_hosts or any(fnmatch.fnmatch(host, p) for p in patterns)


async def open_upstream_blob(
    client: httpx.AsyncClient,
    url: str,
    *,
    allowed_hosts: set[str],
    cdn_patterns: tuple[str, ...],
    headers: dict[str, str],
) -> httpx.Response:
    """GET ``url`` following redirects within the allowed hosts; the caller closes it."""
    for _ in range(MAX_REDIRECTS + 1):
        if not host_allowed(url, allowed_hosts, cdn_patterns):
            raise FillError(
                f"refusing to fetch from {urlsplit(url).hostname!r}: not an allowed host"
            )
        try:
            response = await client.send(
                client.build_request("GET", url, headers=headers), stream=True
            )
        except httpx.HTTPError as exc:
            raise FillError(f"upstream unreachable: {type(exc).__name__}") from None
        if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
            url = urljoin(url, response.headers["location"])
            await response.aclose()
            continue
        return response
    raise FillError("too many redirects")


async def stream_to_file(
    response: httpx.Response,
    partial: Path,
    *,
    size: int,
    sha3_384: str,
    on_progress: Callable[[int], Awaitable[None]],
) -> None:
    """Write the body to ``partial``; FillError unless it is exactly ``size`` bytes of
    ``sha3_384``. The file is flushed after every chunk so followers can read it at once."""
    if response.status_code != 200:
        raise FillError(f"upstream answered {response.status_code}")
    hasher = hashlib.sha3_384()
    written = 0
    try:
        with partial.open("wb") as out:
            async for chunk in response.aiter_bytes():  # as received: first bytes flow at once
                written += len(chunk)
                if written > size:
                    raise FillError(f"upstream sent more than the {size} bytes recorded")
                out.write(chunk)
                out.flush()
                hasher.update(chunk)
                await on_progress(written)
            os.fsync(out.fileno())
    except httpx.HTTPError as exc:
        raise FillError(
            f"upstream stopped after {written} of {size} bytes: {type(exc).__name__}"
        ) from None
    if written != size:
        raise FillError(f"upstream sent {written} of {size} bytes")
    if hasher.hexdigest() != sha3_384:
        raise FillError("the bytes do not have the recorded SHA3-384")
