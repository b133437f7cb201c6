"""uvicorn's HTTP/1.1 protocol with what it lacks: ``sendfile(2)`` for the ASGI extensions
``http.response.pathsend`` and ``http.response.zerocopysend``, and a timer and a size limit
for request heads.

``sendfile``: a cache hit in the embedded default is a ``FileResponse``, which sends
``http.response.pathsend`` when the server offers it. Here the file then goes to the socket
through ``loop.sendfile``: the kernel copies it, as nginx does, where Starlette's own path reads
it in 64 KiB pieces through a thread and granian reads it through user space. asyncio's
selector loop has ``sendfile``; uvloop has not, so this protocol runs on ``loop="asyncio"``.
On a TLS connection asyncio falls back to reading and writing the file itself. The followers
of a fill send parts of its open partial file the same way (``zerocopysend``: the route's
``FollowedResponse``), where they used to read each part into memory.

The file is opened on the event loop: the route has just found it (a ``stat`` it remembers
for a few seconds, docs/storage.md "A hit on the local disk"), so the ``open`` is a lookup
in the kernel's dentry cache; a thread hop would double a hit's fixed cost.

Heads: uvicorn's keep-alive timer stops at the first byte of a request, and nothing limits
how long the rest of the head may take, or how big it grows (httptools keeps a header's
pieces until it ends). Here a head that is not complete ``head_timeout`` seconds after its
first byte (or after the connection opened) closes the connection, as nginx's
``client_header_timeout`` and granian's ``header_read_timeout`` do; one over ``HEAD_LIMIT``
gets a 431, and one httptools cannot parse a 400, both in the Store's shape.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, BinaryIO

import structlog
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from shared.errors import error_messages

log = structlog.get_logger(__name__)

PATHSEND = "http.response.pathsend"
ZEROCOPYSEND = "http.response.zerocopysend"
HEAD_LIMIT = 64 * 1024  # bytes of one request's head (nginx's buffers take 32 KiB)


FILE_GONE = error_messages(
    503,
    "cache-file-gone",
    "the cached file was removed while it was being served; try again",
    [(b"retry-after", b"1")],
)


class SendfileCycle(RequestResponseCycle):
    """One request and its answer; ``http.response.pathsend`` and ``zerocopysend`` go out
    with ``sendfile``.

    The answer's head is held until its body's first message: a file gone before it is
    opened (evicted by the size cap between the route's look and the open) is then answered
    503 with Retry-After, which snapd retries, and not with a 200 head and a cut body."""

    held: Any = None

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.start" and not self.response_started:
            self.held = message
            return
        start, self.held = self.held, None
        if message["type"] == PATHSEND and start is not None:
            file = await self._open(message["path"])
            if file is None:
                return
            with file:
                await super().send(start)
                count = self.expected_content_length
                if self.scope["method"] != "HEAD" and count:
                    if os.fstat(file.fileno()).st_size < count:
                        raise RuntimeError(f"{file.name} is shorter than its Content-Length")
                    await self._sendfile(file, 0, count)
            self._complete()
            return
        if start is not None:
            await super().send(start)
        if message["type"] == ZEROCOPYSEND and self.response_started and not self.response_complete:
            await self._send_segment(message)
            return
        await super().send(message)

    async def _open(self, path: str) -> BinaryIO | None:
        try:
            file = open(path, "rb")  # noqa: SIM115 (opened on the loop: see the module's docstring)
        except FileNotFoundError:
            log.warning("sendfile.file_gone", path=path)
            for answer in FILE_GONE:
                await self.send(answer)  # the head, held, then the body
            return None
        return file

    async def _send_segment(self, message: Any) -> None:
        """``http.response.zerocopysend``: ``count`` bytes of ``file`` from ``offset`` (a
        follower's part of a blob being filled), then more, or the end of the answer."""
        if self.scope["method"] != "HEAD" and not self.disconnected:
            if self.chunked_encoding:
                raise RuntimeError("zerocopysend needs a Content-Length")
            file, offset = message["file"], message.get("offset", 0)
            count = message.get("count") or os.fstat(file.fileno()).st_size - offset
            if count > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            sent = await self._sendfile(file, offset, count)
            self.expected_content_length -= sent
            if sent < count and not self.disconnected:  # the file ended early: cut it short
                self._abort("the file is shorter than the part to send")
        if message.get("more_body", False):
            return
        if self.scope["method"] == "HEAD" or self.disconnected:
            self.expected_content_length = 0
        if self.expected_content_length:
            raise RuntimeError("Response content shorter than Content-Length")
        self._complete()

    async def _sendfile(self, file: BinaryIO, offset: int, count: int) -> int:
        """Bytes sent (fewer than ``count`` when the file ends first, or the connection
        goes: then it is marked disconnected and closed)."""
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return 0
        loop = asyncio.get_running_loop()
        try:
            return await loop.sendfile(self.transport, file, offset, count)
        except (OSError, RuntimeError) as exc:
            # The client went away, or the transport closed under us (the send timeout,
            # a shutdown): nothing more can go to it.
            self._abort(type(exc).__name__)
            return 0

    def _abort(self, reason: str) -> None:
        self.disconnected = True
        self.keep_alive = False
        log.info("sendfile.interrupted", reason=reason)
        if not self.transport.is_closing():
            self.transport.close()

    def _complete(self) -> None:
        self.expected_content_length = 0
        self.response_complete = True
        self.message_event.set()
        if not self.keep_alive and not self.transport.is_closing():
            self.transport.close()
        self.on_response()


class SendfileHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, offering ``pathsend`` and ``zerocopysend``, and timing
    and bounding heads."""

    head_timeout: float = 60.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_timer: asyncio.TimerHandle | None = None  # set while a head is read
        self.head_bytes = 0

    @classmethod
    def with_head_timeout(cls, seconds: float) -> type[SendfileHttpProtocol]:
        """This protocol with its own head timer (uvicorn takes a class, not an instance)."""
        return type(cls.__name__, (cls,), {"head_timeout": seconds})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {PATHSEND: {}, ZEROCOPYSEND: {}}
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        cycle = self.cycle
        super().on_headers_complete()
        if self.cycle is not cycle:  # uvicorn built its own: ours instead, the same request
            self.cycle.__class__ = SendfileCycle

    def data_received(self, data: bytes) -> None:
        reading_head = self.head_timer is not None
        super().data_received(data)
        if not reading_head or self.head_timer is None or self.transport.is_closing():
            return
        # Still in the same head: httptools keeps a header's pieces until it ends, so the
        # head's size is bounded here (a chunk at most past the limit).
        self.head_bytes += len(data)
        if self.head_bytes > HEAD_LIMIT:
            self._stop_head_timer()
            message = f"the request's head is over {HEAD_LIMIT // 1024} KiB"
            self._refuse(431, "request-header-too-large", message)

    def send_400_response(self, msg: str) -> None:
        """A head httptools cannot parse: a 400 in the Store's shape (uvicorn's is plain
        text), and the connection closed, as uvicorn does."""
        self._refuse(400, "bad-request", f"{msg} (the request's head is malformed)")

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer on the transport itself (no request cycle is running) and close."""
        start, body = error_messages(status, code, message, [(b"connection", b"close")])
        head = [STATUS_LINE[status]]
        for name, value in [*self.server_state.default_headers, *start["headers"]]:
            head.append(b"%s: %s\r\n" % (name, value))
        self.transport.write(b"".join([*head, b"\r\n", body["body"]]))
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._stop_head_timer()
        self.head_bytes = 0
        self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if not self.transport.is_closing():
            log.info("request.head_timeout", client=self.client, timeout=self.head_timeout)
            self.transport.close()
