"""Domain errors and the one place that maps them to HTTP, in the Store's error shape.

Every error answer is ``{"error-list": [{"code": ..., "message": ...}]}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)

# The Store's error code for an HTTP status, where nothing more precise is known.
_HTTP_CODES = {
    400: "invalid-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "request-too-large",
    415: "unsupported-media-type",
    416: "range-not-satisfiable",
    429: "too-many-requests",
    502: "bad-gateway",
    503: "service-unavailable",
    504: "gateway-timeout",
}


def error_code(status: int) -> str:
    """The Store's error code for ``status`` ("error" for one without a name)."""
    return _HTTP_CODES.get(status, "error")


class SnapProxyError(Exception):
    """Base of all domain errors: an HTTP status, a Store error code and a message."""

    status_code = 500
    code = "internal-error"
    # The answer's Content-Type (snapd also accepts application/problem+json on not-found).
    media_type = "application/json"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra
        self.headers: dict[str, str] = {}


class BadRequest(SnapProxyError):
    status_code = 400
    code = "invalid-request"


class Unauthorized(SnapProxyError):
    status_code = 401
    code = "unauthorized"


class NotFound(SnapProxyError):
    status_code = 404
    code = "not-found"


class PayloadTooLarge(SnapProxyError):
    status_code = 413
    code = "request-too-large"


class UpstreamUnavailable(SnapProxyError):
    status_code = 503
    code = "upstream-unavailable"


class UpstreamError(SnapProxyError):
    status_code = 502
    code = "upstream-error"


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"code": code, "message": message}
    item.update(extra)
    return {"error-list": [item]}


def error_messages(
    status: int, code: str, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> tuple[Message, Message]:
    """An error answer as the two ASGI messages that send it, for code below the routes
    (middleware, the server's protocol)."""
    body = json.dumps(error_body(code, message)).encode()
    start_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    return (
        {"type": "http.response.start", "status": status, "headers": start_headers},
        {"type": "http.response.body", "body": body},
    )


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    media_type: str = "application/json",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        error_body(code, message, **extra),
        status_code=status_code,
        media_type=media_type,
        headers=headers,
    )


# A 503 says "not now": it says when to try again (snapd retries 5xx itself; scripts and
# proxies read the header).
RETRY_AFTER_SECONDS = "5"


def domain_error_response(exc: SnapProxyError) -> JSONResponse:
    """The answer to a domain error (also for middleware, outside the exception handlers)."""
    headers = dict(exc.headers)
    if exc.status_code == 503:
        headers.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    return error_response(
        exc.status_code,
        exc.code,
        exc.message,
        media_type=exc.media_type,
        headers=headers or None,
        **exc.extra,
    )


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """One line for the first few errors of a validation (FastAPI's or a pydantic model's)."""
    parts = []
    for error in errors[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors and HTTP errors to the Store's shape."""

    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SnapProxyError)
        if exc.status_code >= 500:
            log.warning("request.failed", code=exc.code, error=exc.message)
        return domain_error_response(exc)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(400, "invalid-request", describe_validation_errors(exc.errors()))

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = error_code(exc.status_code)
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.url.path}"
        return error_response(
            exc.status_code, code, message, headers=dict(exc.headers or {}) or None
        )

    async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request.crashed")
        return internal_error_response()

    app.add_exception_handler(SnapProxyError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    # Only for failures outside the routes (in the outer middleware): Starlette's outermost
    # ServerErrorMiddleware answers with it and re-raises, which closes the connection.
    app.add_exception_handler(Exception, on_unexpected_error)
    app.add_middleware(UnexpectedErrors)


def internal_error_response() -> JSONResponse:
    return error_response(500, "internal-error", "internal error; see the proxy's log")


class UnexpectedErrors:
    """Pure ASGI middleware: an exception no handler took becomes a 500 in the Store's
    shape, and the request ends normally, so the server keeps the connection open.

    Starlette's own catch-all (ServerErrorMiddleware) sends its 500 and re-raises; uvicorn
    then closes the keep-alive connection, and nginx may hand that dead connection to the
    next client, whose request fails. Only an answer already under way when the exception
    comes is re-raised: it cannot be finished, so its connection must close."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception:
            if started:
                raise
            log.exception("request.crashed", path=scope.get("path"))
            await internal_error_response()(scope, receive, send)
