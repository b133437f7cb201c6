"""The apply hook of ``proxy.https.proxy``: the forward proxy must accept a connection
before it is kept, so a typo or a proxy that is down is refused with nothing changed."""

from __future__ import annotations

import socket

import httpx

from shared.config.hooks import ApplyContext, ConfigApplyError
from shared.outbound import proxy_label

DEFAULT_PORTS = {"http": 80, "https": 443}


def forward_proxy_reachable(text: str, context: ApplyContext) -> str:
    """Keep ``text`` if its host and port accept a TCP connection; ConfigApplyError (one
    line: the proxy without its credentials, and why) otherwise."""
    url = httpx.URL(text)
    port = url.port or DEFAULT_PORTS.get(url.scheme, 80)
    timeout = context.settings.db_connect_timeout
    try:
        with socket.create_connection((url.host, port), timeout=timeout):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else exc.strerror or str(exc)
        raise ConfigApplyError(
            f"cannot reach the forward proxy {proxy_label(text)} ({reason}); start it or "
            "correct the address: nothing was changed"
        ) from None
    return text
