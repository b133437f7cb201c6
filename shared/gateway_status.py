"""``snap-proxy status``'s first line, ``nginx: running`` or ``nginx: not running: WHY``, as
the Snap Store Proxy prints it: the front door's ``/_status/check`` asked as a client would
(nginx in the split topology and compose, ``snap-proxy serve``'s own server in the embedded
default). With a certificate imported it is asked over HTTPS for proxy.domain, trusting
what clients trust (the proxy's own CA, else the system's), so a certificate that does not
cover proxy.domain or a chain clients cannot verify shows here first."""

from __future__ import annotations

import os
import re
import ssl

import httpx

from shared.settings import Settings
from shared.tls import client_ca

_SSL_LOCATION = re.compile(r"\s*\(_ssl\.c:\d+\)")


def _loopback(host: str) -> str:
    if host in ("0.0.0.0", "", "localhost"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _client_context(settings: Settings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca = client_ca(settings.tls_cert or "")
    if ca is not None:
        context.load_verify_locations(cadata=ca)
    return context


def reason(exc: BaseException) -> str:
    """One line: the SSL or socket error inside an httpx error, as Python words it."""
    pending: list[BaseException] = [exc]
    seen: list[BaseException] = []
    while pending:
        cause = pending.pop(0)
        if any(cause is known for known in seen):
            continue
        seen.append(cause)
        # An SSL error, or a socket error with its errno ([Errno 111] Connection refused),
        # not anyio's "All connection attempts failed" around them.
        if isinstance(cause, ssl.SSLError):
            return _SSL_LOCATION.sub("", str(cause))
        if isinstance(cause, OSError) and cause.errno:
            return f"[Errno {cause.errno}] {os.strerror(cause.errno)}"
        if isinstance(cause, BaseExceptionGroup):
            pending.extend(cause.exceptions)
        pending.extend(c for c in (cause.__cause__, cause.__context__) if c is not None)
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


async def gateway_problem(settings: Settings, http_base: str | None = None) -> str | None:
    """None when the front door answers 200, else why not (one line)."""
    host = _loopback(settings.host)
    extensions: dict[str, str] = {}
    verify: ssl.SSLContext | bool = True
    headers: dict[str, str] = {}
    if http_base:
        url = f"{http_base.rstrip('/')}/_status/check"
    elif settings.tls_enabled and settings.domain:
        url = f"https://{host}:{settings.port_https}/_status/check"
        extensions["sni_hostname"] = settings.domain
        headers["Host"] = settings.domain
        verify = _client_context(settings)
    else:
        url = f"http://{host}:{settings.port}/_status/check"
    try:
        async with httpx.AsyncClient(verify=verify, timeout=settings.check_timeout + 5) as client:
            response = await client.get(url, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return reason(exc)
    if response.status_code >= 400:
        kind = "Server" if response.status_code >= 500 else "Client"
        return f"{response.status_code} {kind} Error: {response.reason_phrase} for url: {url}"
    return None
