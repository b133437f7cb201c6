"""What every service checks before a route runs: the admin token, then a bounded body.

One pure ASGI middleware, installed by ``create_service_app``, so it holds in the embedded
default and in each service alone (the split topology's ports are reachable without nginx):

- on an admin path (``/v1/...``) the admin token is checked first, before a byte of the
  body is read (FastAPI reads body parameters before it solves dependencies, so the routes'
  own ``require_admin`` would come too late); on an internal path (``/_internal/...``) the
  internal secret is, the same way;
- the body is then read whole, up to the path's limit (a few KiB on the admin API, 1 MiB,
  nginx's ``client_max_body_size``, everywhere else), and handed to the route from memory.
  A body announced or streamed past the limit gets a 413 as soon as that is known, and a
  body that breaks off (or whose chunked encoding is invalid) gets a 400.

After an early answer the rest of the body is read and thrown away, up to
``DRAIN_MAX_BYTES`` (nginx's lingering close): a client still sending can read the answer,
and its connection stays usable (granian closes a connection whose body was left unread).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.admin import check_admin_authorization, is_admin_path
from shared.config.live import LiveSettings
from shared.errors import BadRequest, PayloadTooLarge, SnapProxyError, domain_error_response
from shared.http import MAX_BODY_BYTES
from shared.internal import HEADER as INTERNAL_HEADER
from shared.internal import INTERNAL_PREFIX, InternalSecret

ADMIN_MAX_BODY_BYTES = 8 * 1024
# The overrides' POST: up to 100 changes of a 40-character name and a 128-character channel.
OVERRIDES_PATH = "/v2/metadata/overrides"
OVERRIDES_MAX_BODY_BYTES = 32 * 1024
# What one service tells another: a refresh of hundreds of snaps is recorded in one
# observation, with the upstream's JSON of each.
INTERNAL_MAX_BODY_BYTES = 16 * 1024 * 1024
DRAIN_MAX_BYTES = 4 * 1024 * 1024


def is_internal_path(path: str) -> bool:
    return path.startswith(INTERNAL_PREFIX)


def body_limit(path: str) -> int:
    """The largest request body ``path`` accepts, in bytes."""
    if path == OVERRIDES_PATH:
        return OVERRIDES_MAX_BODY_BYTES
    if is_admin_path(path):
        return ADMIN_MAX_BODY_BYTES
    return INTERNAL_MAX_BODY_BYTES if is_internal_path(path) else MAX_BODY_BYTES


class RequestAdmission:
    """Pure ASGI middleware: admin token on admin paths, then the body, bounded."""

    def __init__(self, app: ASGIApp, live: LiveSettings, internal_secret: InternalSecret) -> None:
        self.app = app
        self.live = live  # the admin token is a live key: read it on every request
        self.internal_secret = internal_secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = Headers(scope=scope)
        body_ended = False

        async def tracked_receive() -> Message:
            nonlocal body_ended
            message = await receive()
            body_ended = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        try:
            if is_admin_path(path):
                check_admin_authorization(self.live.current, headers.get("authorization"))
            elif is_internal_path(path):
                await self.internal_secret.check(headers.get(INTERNAL_HEADER))
            body = await read_bounded_body(scope, headers, tracked_receive, body_limit(path))
        except SnapProxyError as error:
            await domain_error_response(error)(scope, receive, send)
            if announces_body(headers) and not body_ended:
                await drain_body(tracked_receive)
            return
        await self.app(scope, receive if body is None else _replay(body, receive), send)


def announces_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


async def read_bounded_body(
    scope: Scope, headers: Headers, receive: Receive, limit: int
) -> bytes | None:
    """The whole body, or None when the request announces none (HTTP/1: no length, not
    chunked). PayloadTooLarge past ``limit``; BadRequest when the body breaks off."""
    declared = headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("invalid Content-Length")
        if int(declared) > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
    if not announces_body(headers) and scope.get("http_version") != "2":
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise BadRequest("the request body broke off or is not validly encoded")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def drain_body(receive: Receive, allowance: int = DRAIN_MAX_BYTES) -> None:
    """Read and drop the rest of a body, at most ``allowance`` bytes of it."""
    while allowance > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        allowance -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` once, then what the server sends (a disconnect)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
