"""Request helpers shared by the services: bounded bodies, the client's view (its address
and the proxy's public base URL, with forwarded headers believed from trusted proxies only)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from fastapi import Request

from shared.errors import PayloadTooLarge
from shared.settings import Settings

MAX_BODY_BYTES = 1024 * 1024
_HOST = re.compile(r"^[A-Za-z0-9.\-\[\]:]{1,255}$")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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


@dataclass(frozen=True)
class ClientView:
    """How a client reached the proxy: its address, and the scheme and host it used."""

    address: str | None
    scheme: str
    host: str


def _ip(text: str) -> IPAddress | None:
    """``text`` as an address (an IPv4-mapped IPv6 address as IPv4), or None."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _last(value: str | None) -> str:
    """The last entry of a comma-separated header: the one the nearest proxy added."""
    return (value or "").rsplit(",", 1)[-1].strip()


def is_trusted_proxy(peer: str | None, settings: Settings) -> bool:
    address = _ip(peer) if peer else None
    return address is not None and any(address in net for net in settings.trusted_proxy_networks)


def client_view(request: Request, settings: Settings) -> ClientView:
    """The client as the proxy should see it.

    ``X-Forwarded-For``, ``-Proto`` and ``-Host`` are believed only when the peer (the other
    end of this TCP connection) is a trusted proxy (``SNAPPROXY_TRUSTED_PROXIES``), and then
    only their last value, the one that proxy added: earlier ones come from whoever talked
    to it, and can say anything. Otherwise the peer's address, the connection's scheme and
    the ``Host`` header count; with ``proxy.trust-forwarded-proto`` the scheme is
    ``X-Forwarded-Proto``'s whoever sent it (it only shapes the URLs of the answer to that
    same client)."""
    peer = request.client.host if request.client else None
    headers = request.headers
    address = peer
    scheme = request.url.scheme
    host = headers.get("host") or request.url.netloc
    if is_trusted_proxy(peer, settings):
        forwarded_for = _ip(_last(headers.get("x-forwarded-for")))
        if forwarded_for is not None:
            address = str(forwarded_for)
        scheme = _last(headers.get("x-forwarded-proto")) or scheme
        host = _last(headers.get("x-forwarded-host")) or host
    elif settings.trust_forwarded_proto:  # proxy.trust-forwarded-proto: a TLS load balancer
        scheme = _last(headers.get("x-forwarded-proto")) or scheme
    if scheme not in ("http", "https"):
        scheme = "http"
    if not _HOST.match(host):
        host = f"{settings.host}:{settings.port}"
    return ClientView(address=address, scheme=scheme, host=host)


def public_base_url(request: Request, settings: Settings) -> str:
    """Where clients reach the proxy: SNAPPROXY_PUBLIC_URL, else proxy.domain, else what the
    client used."""
    configured = settings.configured_public_url
    if configured:
        return configured
    view = client_view(request, settings)
    return f"{view.scheme}://{view.host}"
