"""Connection timeouts: what nginx does for the split topology, done by the servers snapproxy
runs itself (``snap-proxy serve``: uvicorn with snapproxy's protocol by default, or granian;
``serve-service``: uvicorn).

=============================  ================================  ==========================
nginx in the split topology    setting                           here
=============================  ================================  ==========================
``keepalive_timeout 65``       ``SNAPPROXY_KEEPALIVE_TIMEOUT``   the server's own timer
``client_header_timeout 60``   ``SNAPPROXY_CLIENT_TIMEOUT``      the server's own timer
``client_body_timeout 60``     ``SNAPPROXY_CLIENT_TIMEOUT``      ``BodyReadTimeout``
``send_timeout 60``            ``SNAPPROXY_SEND_TIMEOUT``        ``TCP_USER_TIMEOUT``
=============================  ================================  ==========================

granian 2.8 has one timer for keep-alive and request heads (hyper's ``header_read_timeout``,
set to the smaller of the two settings); on a new connection it starts at the first byte, so
a connection that sends nothing stays open (tests/security/test_f08_idle_connections.py).
It has no timer for bodies or for sending.
Bodies: ``BodyReadTimeout`` below (every service app has it). Sending: the kernel. The
listening socket gets ``TCP_USER_TIMEOUT`` (inherited by each accepted connection), so a
connection whose sent bytes stay unacknowledged, or whose client keeps its receive window
shut, for that long is aborted. That also covers the files the server sends by itself (the
cache hits and a fill's followers: ``sendfile``, or granian's ``pathsend``), which no Python
code sees.

uvicorn has ``timeout_keep_alive`` and no timer for a request head; ``snap-proxy serve`` runs
it with :class:`~shared.sendfile_http.SendfileHttpProtocol`, which adds one (from a
connection's opening or a request's first byte to its whole head). ``serve-service`` runs
behind nginx, which has its own.
"""

from __future__ import annotations

import asyncio
import math
import socket
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import error_messages
from shared.health import draining
from shared.settings import Settings

if TYPE_CHECKING:
    from granian.server import MPServer

log = structlog.get_logger(__name__)

TCP_USER_TIMEOUT: int | None = getattr(socket, "TCP_USER_TIMEOUT", None)


class BodyReadTimeout:
    """ASGI middleware: a request body that stops arriving for ``timeout`` seconds gets a 408
    in the Store's shape and its connection is closed (nginx's ``client_body_timeout``).

    The timer runs only while the application waits for more of the body: between two
    reads, as nginx's does."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = timed_out = started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout(self.timeout):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                return {"type": "http.disconnect"}  # to the application, the client is gone
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out and not started:
                return  # the application's answer to a body that never came: ours is a 408
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not timed_out:
                raise
        if timed_out and not started:
            log.info("request.body_timeout", path=scope.get("path"), timeout=self.timeout)
            await _send_timeout_answer(send, self.timeout)


async def _send_timeout_answer(send: Send, timeout: float) -> None:
    message = f"the request body stopped arriving for {timeout:g} s"
    close = [(b"connection", b"close")]
    for answer in error_messages(408, "request-timeout", message, close):
        await send(answer)


def set_send_timeout(sock: socket.socket, seconds: float) -> None:
    """``TCP_USER_TIMEOUT`` on ``sock`` (a listening socket passes it to every connection)."""
    if TCP_USER_TIMEOUT is None:
        log.warning("serve.no_send_timeout", reason="TCP_USER_TIMEOUT is Linux only")
        return
    sock.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, max(1, int(seconds * 1000)))


def listening_socket(host: str, port: int, send_timeout: float) -> socket.socket:
    """A TCP listening socket on ``host:port`` whose connections have the send timeout."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    set_send_timeout(sock, send_timeout)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def keep_alive_seconds(timeout: float) -> int:
    """uvicorn takes whole seconds."""
    return max(1, math.ceil(timeout))


def head_timeout(settings: Settings) -> float:
    """Seconds from a connection's opening, or a request's first byte, to its whole head:
    one timer for keep-alive and heads, as granian has it."""
    return min(settings.keepalive_timeout, settings.client_timeout)


def granian_server(
    target: str, host: str, port: int, settings: Settings, **options: Any
) -> MPServer:
    """A granian server for ``target`` (an ASGI factory) with the timeouts of ``settings``;
    ``options`` go to granian as they are."""
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import MPServer

    send_timeout = settings.send_timeout

    class Server(MPServer):
        def _init_shared_socket(self) -> None:
            # On Linux granian lets each worker bind its own socket, out of Python's reach;
            # build the one listening socket here instead (granian's path on other systems)
            # so that its options can be set.
            super()._init_shared_socket()  # type: ignore[no-untyped-call]
            if self._shd is None and self._ssp is not None:
                self._shd = self._ssp.build()
                self._sfd = self._shd.get_fd()
                self._ssp = None
                self._sso = socket.socket(fileno=self._sfd)
                self._sso.set_inheritable(True)
            assert self._sso is not None
            set_send_timeout(self._sso, send_timeout)

    head_read_ms = max(1, int(head_timeout(settings) * 1000))
    return Server(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        factory=True,
        log_level=LogLevels.warning,
        http1_settings=HTTP1Settings(header_read_timeout=head_read_ms),
        **options,
    )


class DrainingServer(uvicorn.Server):
    """uvicorn that, told to stop, first drains for ``delay`` seconds: it keeps serving while
    ``/_status/check`` answers 503 ``draining`` (readiness fails, so Kubernetes takes it out
    of its Service), then stops accepting and lets open requests finish within uvicorn's
    graceful timeout. A second signal stops it at once, as uvicorn does."""

    def __init__(self, config: uvicorn.Config, delay: float) -> None:
        super().__init__(config)
        self.delay = delay
        self._timer: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.delay <= 0 or self._timer is not None:
            super().handle_exit(sig, frame)
            return
        draining.set()
        log.info("server.draining", seconds=self.delay)
        self._timer = threading.Timer(self.delay, super().handle_exit, (sig, frame))
        self._timer.daemon = True
        self._timer.start()
