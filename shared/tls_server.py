"""HTTPS in the embedded default: ``snap-proxy serve`` with a certificate imported.

One process, one event loop, one :class:`~shared.embedded.EmbeddedGateway`, two uvicorn
listeners: HTTPS on proxy.port.https (the suite), and HTTP on proxy.port.http, which answers
``/_status/`` itself (health checks and ``snap-proxy status`` keep working over HTTP, as
with nginx) and redirects everything else to HTTPS (:class:`RedirectToHttps`).

The certificate is reloaded without a restart: the HTTPS listener's ``ssl.SSLContext`` is
made once, and :class:`CertificateReloader` calls ``load_cert_chain`` on that same context
when ``snap-proxy import-certificate`` stores a new pair (it follows the configuration, as
every live key). OpenSSL builds each new connection from the context as it is then, so new
handshakes get the new certificate and open connections keep theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.config.live import LiveSettings
from shared.settings import Settings
from shared.tls import CertificateRefused, check_stored_pair
from shared.tls_files import write_pair

log = structlog.get_logger(__name__)

# Redirected with 301 (as the Snap Store Proxy's nginx does); other methods get 308 so that
# a client's POST (snapd's refresh) is sent again, body and all, to the HTTPS URL.
PLAIN_REDIRECT_METHODS = ("GET", "HEAD")


def tls_pair(settings: Settings) -> tuple[str, str] | None:
    """(chain, key) PEM when a certificate is imported."""
    if not settings.tls_enabled or settings.tls_cert is None or settings.tls_key is None:
        return None
    return settings.tls_cert, settings.tls_key.get_secret_value()


def server_context(directory: Path, pair: tuple[str, str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # snapd's own minimum
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(*write_pair(directory, *pair))
    return context


class CertificateReloader:
    """Loads a changed certificate into the serving context (see the module docstring)."""

    def __init__(self, context: ssl.SSLContext, directory: Path, pair: tuple[str, str]) -> None:
        self.context = context
        self.directory = directory
        self.loaded: tuple[str, str] | None = pair

    def follow(self, settings: Settings) -> bool:
        """Load ``settings``' pair if it is new; True when it did."""
        pair = tls_pair(settings)
        if pair == self.loaded:
            return False
        if pair is None:
            log.warning(
                "tls.removed",
                kept="the last certificate",
                action="restart `snap-proxy serve` to serve HTTP only",
            )
            self.loaded = None  # said once
            return False
        try:
            check_stored_pair(*pair)
            self.context.load_cert_chain(*write_pair(self.directory, *pair))
        except (CertificateRefused, ssl.SSLError, OSError) as exc:
            log.error("tls.reload_failed", error=str(exc), kept="the last certificate")
            self.loaded = pair  # not again until it changes
            return False
        self.loaded = pair
        log.info("tls.reloaded")
        return True

    async def run(self, live: LiveSettings) -> None:
        while True:
            await asyncio.sleep(live.current.config_poll_interval)
            self.follow(live.current)


class RedirectToHttps:
    """The HTTP listener's app: ``/_status/`` answered by the suite, the rest redirected to
    the same path on HTTPS (301, or 308 for methods with a body)."""

    def __init__(self, app: ASGIApp, https_port: int, domain: str | None) -> None:
        self.app = app
        self.port = "" if https_port == 443 else f":{https_port}"
        self.domain = domain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith("/_status/"):
            await self.app(scope, receive, send)
            return
        host = _host_only(Headers(scope=scope).get("host")) or self.domain or "localhost"
        target = f"https://{host}{self.port}{scope.get('raw_path', b'').decode('latin-1')}"
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        status = 301 if scope.get("method") in PLAIN_REDIRECT_METHODS else 308
        body = f'{{"error-list": [{{"code": "moved", "message": "use {target}"}}]}}'.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"location", target.encode("latin-1")),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _host_only(host: str | None) -> str | None:
    """The Host header without its port; None for one that cannot go into a URL."""
    if not host:
        return None
    name = host[: host.find("]") + 1] if host.startswith("[") else host.rsplit(":", 1)[0]
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:")
    return name if name and set(name) <= allowed else None


class _Listener(uvicorn.Server):
    """A uvicorn server that leaves signals to :func:`serve_https` (two servers share them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


Listeners = list[tuple[_Listener, socket.socket]]


async def _serve(servers: Listeners, reloader: CertificateReloader, live: LiveSettings) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server, _ in servers:
            server.force_exit = server.should_exit
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    follow = asyncio.create_task(reloader.run(live), name="tls-reload")
    try:
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in servers))
    finally:
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow


def serve_https(
    settings: Settings,
    http_socket: socket.socket,
    https_socket: socket.socket,
    **uvicorn_options: Any,
) -> None:
    """Serve the embedded suite on ``https_socket`` and the redirect on ``http_socket``
    until SIGINT or SIGTERM."""
    from shared.embedded import create_embedded_app

    pair = tls_pair(settings)
    assert pair is not None, "serve_https needs proxy.tls.cert and proxy.tls.key"
    directory = settings.data_dir / "tls"
    context = server_context(directory, pair)
    gateway = create_embedded_app()
    https = uvicorn.Config(
        gateway, ssl_context_factory=lambda _config, _default: context, **uvicorn_options
    )
    redirect = RedirectToHttps(gateway, settings.port_https, settings.domain)
    http = uvicorn.Config(redirect, lifespan="off", **uvicorn_options)
    servers = [(_Listener(https), https_socket), (_Listener(http), http_socket)]
    reloader = CertificateReloader(context, directory, pair)
    asyncio.run(_serve(servers, reloader, gateway.resources.live))
