"""Responses in the Store's shapes (compact JSON, exact Content-Types)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

JSON = "application/json"
HAL_JSON = "application/hal+json"
PROBLEM_JSON = "application/problem+json"
ASSERTION = "application/x.ubuntu.assertion"
STORE_VERSION = "58"

ERROR_CODES = {
    400: "invalid-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    429: "too-many-requests",
    500: "internal-error",
    502: "bad-gateway",
    503: "service-unavailable",
    504: "gateway-timeout",
}


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(
    value: Any, status: int = 200, media_type: str = JSON, headers: dict[str, str] | None = None
) -> Response:
    return Response(compact(value), status_code=status, media_type=media_type, headers=headers)


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error-list": [{"code": code, "message": message, **extra}]}


def store_error(
    status: int, message: str, code: str | None = None, media_type: str = JSON
) -> Response:
    code = code or ERROR_CODES.get(status, "error")
    return json_response(error_body(code, message), status=status, media_type=media_type)


def invalid_request(message: str) -> Response:
    return store_error(400, message, "invalid-request")
