"""HTTP/1.1 by hand, for requests no well-behaved client sends: bytes outside ASCII in header
values, bodies that stop half-way, several requests on one connection."""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def as_httpx(self) -> httpx.Response:
        return httpx.Response(self.status, headers=self.headers, content=self.body)


def host_port(url: str) -> tuple[str, int]:
    parsed = httpx.URL(url)
    return parsed.host, parsed.port or 80


def request_bytes(
    method: str,
    path: str,
    headers: dict[str, str | bytes] | None = None,
    body: bytes = b"",
    *,
    content_length: int | None = None,
) -> bytes:
    """A request's bytes; header values may be bytes (sent as they are)."""
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: proxy.test"]
    for name, value in (headers or {}).items():
        raw = value if isinstance(value, bytes) else value.encode("latin-1")
        lines.append(name.encode() + b": " + raw)
    if "transfer-encoding" not in {name.lower() for name in headers or {}}:
        length = len(body) if content_length is None else content_length
        lines.append(f"Content-Length: {length}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class Connection:
    """One TCP connection; requests go out as raw bytes, answers are parsed one at a time."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(host_port(url), timeout=timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def answer(self, timeout: float | None = None) -> RawAnswer:
        """The next answer on this connection (TimeoutError if none comes in time)."""
        if timeout is not None:
            self.sock.settimeout(timeout)
        response = http.client.HTTPResponse(self.sock)
        response.begin()
        body = response.read()
        return RawAnswer(response.status, {k.lower(): v for k, v in response.getheaders()}, body)

    def exchange(self, data: bytes, timeout: float | None = None) -> RawAnswer:
        self.send(data)
        return self.answer(timeout)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
