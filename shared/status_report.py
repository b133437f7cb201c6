"""What ``snap-proxy status`` shows, gathered through the gateway as an admin sees it.

Each internal service is asked for its ``/_status/<service>/check``; memcached's state comes
from what the services' own memcached checks say (they hold the connections); the figures
(connected devices, the device limit, other clients) come from the admin API. Reasons are in
the Snap Store Proxy's forms: ``[Errno 111] Connection refused`` for a connection that
failed, ``503 Server Error: Service Unavailable for url: URL`` for an answer that is not 200.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import httpx

from shared.settings import SERVICE_NAMES

# The names the Snap Store Proxy gives its services (and snapproxy its database roles).
DISPLAY_NAMES = {
    "auth": "snapauth",
    "devicegw": "snapdevicegw",
    "revisions": "snaprevs",
    "assertions": "snapassert",
    "downloads": "snapdownloads",
}
NOT_REGISTERED = "not registered"


@dataclass(frozen=True)
class Part:
    name: str
    running: bool
    detail: str = ""  # why it is not running, or how it runs

    @property
    def line(self) -> str:
        if self.running:
            return f"{self.name}: running" + (f" ({self.detail})" if self.detail else "")
        return f"{self.name}: {self.detail}"


@dataclass
class StatusReport:
    gateway_url: str
    embedded: bool | None = None  # None: the gateway did not answer
    parts: list[Part] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    figures_error: str | None = None
    # proxy.device-limit as this node's configuration says, for when the proxy cannot be
    # asked (no admin token, the auth service down).
    configured_limit: int | None = None
    store_id: str | None = None  # internal.store.id: set once `snap-proxy register` ran
    # Each service's /_status/check answer as it came (None: no JSON), by service name.
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return all(part.running or part.detail.startswith("not used") for part in self.parts)

    def front_door_failed(self, problem: str) -> None:
        """The gateway answered over HTTP but not as clients see it (HTTPS for
        proxy.domain): its line says why (``shared.gateway_status``)."""
        self.parts = [
            Part(part.name, False, f"not running: {problem}")
            if part.name in ("nginx", "gateway")
            else part
            for part in self.parts
        ]


def connection_reason(exc: BaseException) -> str:
    """``[Errno 111] Connection refused`` for a failed connection (the OSError under it),
    else the exception's own first line."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return f"[Errno {seen.errno}] {os.strerror(seen.errno)}"
        for arg in getattr(seen, "args", ()):
            if isinstance(arg, OSError) and arg.errno is not None:
                return f"[Errno {arg.errno}] {os.strerror(arg.errno)}"
        seen = seen.__cause__ or seen.__context__
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def http_reason(response: httpx.Response) -> str:
    """``500 Server Error: Internal Server Error for url: URL`` (as ``requests`` words it)."""
    code = response.status_code
    kind = "Client Error" if code < 500 else "Server Error"
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Unknown"
    return f"{code} {kind}: {phrase} for url: {response.request.url}"


def _check_error(text: str) -> str:
    """A check's error in the guide's form: ``ConnectionRefusedError: [Errno 111] ...`` ->
    ``[Errno 111] ...``."""
    return re.sub(r"^\w+: (?=\[Errno \d+\])", "", text)


def _failing(body: Any) -> str:
    """``database: <error>; memcached: <error>`` from a check's answer, or the message of
    an answer in the Store's error shape (the gateway's own 503)."""
    if not isinstance(body, dict):
        return ""
    if isinstance(body.get("error-list"), list) and body["error-list"]:
        first = body["error-list"][0]
        return str(first.get("message", "")) if isinstance(first, dict) else ""
    if not isinstance(body.get("checks"), dict):
        return ""
    failing = [
        f"{name}: {_check_error(str(check.get('error', 'failing')))}"
        for name, check in body["checks"].items()
        if isinstance(check, dict) and not check.get("ok") and check.get("required", True)
    ]
    return "; ".join(failing)


async def _get(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response | None, str]:
    try:
        return await client.get(path), ""
    except httpx.HTTPError as exc:
        return None, connection_reason(exc)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


async def _service(client: httpx.AsyncClient, name: str) -> tuple[Part, Any]:
    response, error = await _get(client, f"/_status/{name}/check")
    display = DISPLAY_NAMES[name]
    if response is None:
        return Part(display, False, f"not running: {error}"), None
    body = _json(response)
    if response.status_code == 200:
        return Part(display, True), body
    failing = _failing(body)
    reason = http_reason(response) + (f" ({failing})" if failing else "")
    return Part(display, False, f"not running: {reason}"), body


def _memcached(bodies: list[Any], embedded: bool) -> Part | None:
    """memcached as the services see it; None when no service said."""
    checks = [
        body["checks"]
        for body in bodies
        if isinstance(body, dict) and isinstance(body.get("checks"), dict)
    ]
    if any("cache" in found and "memcached" not in found for found in checks):
        cache = "in-process cache of snap-proxy serve" if embedded else "in-process caches"
        return Part("memcached", False, f"not used ({cache}: proxy.memcached.connection unset)")
    results = [found["memcached"] for found in checks if "memcached" in found]
    if not results:
        return None
    if any(result.get("ok") for result in results):
        return Part("memcached", True)
    error = _check_error(str(results[0].get("error", "failing")))
    return Part("memcached", False, f"not running: {error}")


async def _figures(client: httpx.AsyncClient, token: str | None) -> tuple[dict[str, Any], str]:
    if not token:
        return {}, "no admin token: set admin.token (snap-proxy config) or SNAPPROXY_ADMIN_TOKEN"
    headers = {"Authorization": f"Bearer {token}"}
    asked = (("/v1/devices/summary", None), ("/v1/clients?limit=1", ("other-clients",)))
    answers = await asyncio.gather(
        *(client.get(path, headers=headers) for path, _ in asked), return_exceptions=True
    )
    figures: dict[str, Any] = {}
    for (_, keys), response in zip(asked, answers, strict=True):
        if isinstance(response, httpx.HTTPError):
            return figures, connection_reason(response)
        if isinstance(response, BaseException):
            raise response
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            return figures, http_reason(response)
        figures.update({key: body[key] for key in keys} if keys else body)
    return figures, ""


async def gather(
    gateway_url: str,
    admin_token: str | None,
    configured_limit: int | None = None,
    timeout: float = 10,
) -> StatusReport:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=timeout) as client:
        return await gather_with(client, admin_token, configured_limit)


async def gather_with(
    client: httpx.AsyncClient, admin_token: str | None, configured_limit: int | None = None
) -> StatusReport:
    """:func:`gather` through a client of the caller's (the dashboard's, which reaches the
    services through the route table rather than over the network to the gateway)."""
    report = StatusReport(str(client.base_url), configured_limit=configured_limit)
    ping, ping_error = await _get(client, "/_status/ping")
    ping_body = _json(ping) if ping is not None else None
    embedded = isinstance(ping_body, dict) and ping_body.get("topology") == "embedded"
    report.embedded = None if ping is None else embedded
    services, (figures, figures_error) = await asyncio.gather(
        asyncio.gather(*(_service(client, name) for name in SERVICE_NAMES)),
        _figures(client, admin_token),
    )
    report.figures, report.figures_error = figures, figures_error or None
    parts = [part for part, _ in services]
    report.checks = {name: body for name, (_, body) in zip(SERVICE_NAMES, services, strict=True)}
    if embedded:
        gateway = Part("gateway", True, "in-process: snap-proxy serve, no nginx")
        parts = [Part(p.name, p.running, p.detail or "in-process") for p in parts]
    elif ping is None:
        gateway = Part("nginx", False, f"not running: {ping_error}")
    elif ping.status_code != 200:
        gateway = Part("nginx", False, f"not running: {http_reason(ping)}")
    else:
        gateway = Part("nginx", True)
    memcached = _memcached([body for _, body in services], embedded)
    if memcached is None:
        memcached = Part("memcached", False, "not running: unknown (no service answered)")
    report.parts = sorted([memcached, gateway, *parts], key=lambda part: part.name)
    return report


def lines(report: StatusReport) -> list[str]:
    """The report in the Snap Store Proxy's shape."""
    figures = report.figures

    def figure(key: str) -> str:
        if key in figures:
            return str(figures[key])
        return f"unknown ({report.figures_error})" if report.figures_error else "unknown"

    limit_value = figures.get("device-limit", report.configured_limit)
    limit = "unlimited" if limit_value is None else str(limit_value)
    out = [
        f"Store ID: {report.store_id or NOT_REGISTERED}",
        f"Status: {'approved' if report.store_id else NOT_REGISTERED}",
        f"Connected Devices (updated daily): {figure('connected-devices')}",
        f"Other Clients (no device session, updated daily): {figure('other-clients')}",
        f"Device Limit: {limit}",
    ]
    if figures.get("refused-devices"):
        out.append(
            f"Refused New Devices (device limit, last 24 h): {figures['refused-devices']}"
            f" ({figures.get('refused-sessions', 0)} session requests)"
        )
    out.append("Internal Service Status:")
    out += [f"  {part.line}" for part in report.parts]
    return out


def _topology(embedded: bool | None) -> str | None:
    if embedded is None:
        return None
    return "embedded" if embedded else "split"


def as_json(report: StatusReport) -> dict[str, Any]:
    figures = report.figures
    return {
        "gateway": report.gateway_url,
        "topology": _topology(report.embedded),
        "store-id": report.store_id,
        "status": "approved" if report.store_id else NOT_REGISTERED,
        "connected-devices": figures.get("connected-devices"),
        "other-clients": figures.get("other-clients"),
        "device-limit": figures.get("device-limit", report.configured_limit),
        "refused-devices": figures.get("refused-devices"),
        "refused-sessions": figures.get("refused-sessions"),
        "figures-error": report.figures_error,
        "services": {
            part.name: {"running": part.running, "detail": part.detail} for part in report.parts
        },
        "healthy": report.healthy,
    }
