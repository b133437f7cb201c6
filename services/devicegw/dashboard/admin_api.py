"""The dashboard's way to the admin API: the same paths the CLI calls, with the admin token.

``RoutedTransport`` sends each request to the service the route table (``shared.routes``)
names, through devicegw's peer clients (over HTTP in the split topology, in-process in the
embedded default), the way the gateway would route it. ``/_status/<service>/check`` goes
to that service's ``/_status/check``, and ``/_status/ping`` is answered here: the page that
asks came through the gateway, so the gateway is up.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from shared import __version__
from shared.routes import service_for_path, status_target
from shared.status_report import StatusReport, gather_with

# Headers of the peer's answer that no longer describe the body handed on (already decoded).
_HOP_HEADERS = {"content-encoding", "content-length", "transfer-encoding", "connection"}


class AdminApiError(Exception):
    """The admin API refused or failed; ``message`` is its error-list message."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class RoutedTransport(httpx.AsyncBaseTransport):
    def __init__(self, peers: Mapping[str, httpx.AsyncClient], topology: str) -> None:
        self.peers = peers
        self.topology = topology

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/_status/ping":
            body = {"service": "gateway", "topology": self.topology, "version": __version__}
            return httpx.Response(200, json=body, request=request)
        target = status_target(path)
        service, path = target if target is not None else (service_for_path(path) or "", path)
        peer = self.peers.get(service)
        if peer is None:
            message = f"no such endpoint: {request.url.path}"
            error = {"code": "not-found", "message": message}
            return httpx.Response(404, json={"error-list": [error]}, request=request)
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        answer = await peer.request(
            request.method,
            path,
            params=request.url.params,
            headers=headers,
            content=await request.aread(),
        )
        kept = [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS]
        return httpx.Response(
            answer.status_code, headers=kept, content=answer.content, request=request
        )


class AdminApi:
    """One page's calls to the admin API, as the admin (``Authorization: Bearer``)."""

    def __init__(self, transport: RoutedTransport, token: str, timeout: float) -> None:
        self.token = token
        self.transport = transport
        self.timeout = timeout
        self.client = httpx.AsyncClient(
            transport=transport,
            base_url="http://gateway.dashboard",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    @property
    def embedded(self) -> bool:
        """The services run in this process (``snap-proxy serve``), not as processes of
        their own."""
        return self.transport.topology == "embedded"

    async def __aenter__(self) -> AdminApi:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AdminApiError(502, f"{path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise AdminApiError(response.status_code, f"{path}: {_message(response)}")
        return response.json()

    async def as_device(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request as a device makes it (``snap-proxy cache prefetch`` does the same):
        without the admin token, which must never be relayed upstream."""
        async with httpx.AsyncClient(
            transport=self.transport, base_url="http://gateway.dashboard", timeout=self.timeout
        ) as device:
            try:
                response = await device.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise AdminApiError(502, f"{path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise AdminApiError(response.status_code, f"{path}: {_message(response)}")
        return response.json()

    async def status(self, configured_limit: int | None) -> StatusReport:
        return await gather_with(self.client, self.token, configured_limit)


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error-list"][0]["message"])
    except (ValueError, KeyError, IndexError, TypeError, json.JSONDecodeError):
        return f"HTTP {response.status_code}"
