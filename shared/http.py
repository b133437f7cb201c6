"""Request helpers shared by the services: bounded bodies, the proxy's public base URL."""

from __future__ import annotations

import re

from fastapi import Request

from shared.errors import PayloadTooLarge
from shared.settings import Settings

MAX_BODY_BYTES = 1024 * 1024
_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]{1,255}$")


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, or PayloadTooLarge as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def public_base_url(request: Request, settings: Settings) -> str:
    """Where clients reach the proxy: SNAPPROXY_PUBLIC_URL, else what the gateway saw."""
    if settings.public_url:
        return settings.public_url
    headers = request.headers
    proto = headers.get("x-forwarded-proto", request.url.scheme).split(",")[0].strip()
    host = headers.get("x-forwarded-host") or headers.get("host") or request.url.netloc
    host = host.split(",")[0].strip()
    if proto not in ("http", "https"):
        proto = "http"
    if not _HOST.match(host):
        host = f"{settings.host}:{settings.port}"
    return f"{proto}://{host}"
