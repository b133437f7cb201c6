"""The client for the upstream store: explicit timeouts, header relaying, a circuit breaker.

Every upstream call has a total deadline well under snapd's own 10 s, and a failing upstream is
not hammered: after ``failure_threshold`` consecutive failures calls fail at once for
``cooldown`` seconds, then one trial call decides whether it is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import httpx
import structlog

from shared.errors import UpstreamUnavailable

log = structlog.get_logger(__name__)

# Request headers a device sends that the upstream store needs to see.
RELAYED_REQUEST_HEADERS = frozenset(
    {
        "accept",
        "authorization",
        "content-type",
        "user-agent",
        "snap-device-architecture",
        "snap-device-series",
        "snap-device-store",
        "snap-device-authorization",
        "snap-device-capabilities",
        "snap-device-location",
        "snap-classic",
        "snap-client-user-agent",
        "snap-refresh-reason",
        "snap-refresh-managed",
        "snap-accept-delta-format",
        "snap-cdn",
        "x-ubuntu-architecture",
        "x-ubuntu-series",
        "x-ubuntu-classic",
        "x-ubuntu-store",
        "x-ubuntu-wire-protocol",
        "x-device-authorization",
    }
)
# Response headers snapd reads, relayed back to the device.
RELAYED_RESPONSE_HEADERS = (
    "snap-store-version",
    "x-suggested-currency",
    "www-authenticate",
    "x-oops-id",
)


def relayed_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name: value for name, value in headers if name.lower() in RELAYED_REQUEST_HEADERS}


def response_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: response.headers[name]
        for name in RELAYED_RESPONSE_HEADERS
        if name in response.headers
    }


@dataclass
class CircuitBreaker:
    failure_threshold: int = 5
    cooldown: float = 10.0
    failures: int = 0
    opened_at: float | None = None

    def allow(self) -> bool:
        # Closed, or open for longer than the cooldown (half-open: let a trial through).
        return self.opened_at is None or time.monotonic() - self.opened_at >= self.cooldown

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def record_failure(self) -> None:
        self.failures += 1
        if self.failures >= self.failure_threshold:
            if self.opened_at is None:
                log.warning("upstream.circuit_open", failures=self.failures)
            self.opened_at = time.monotonic()

    @property
    def is_open(self) -> bool:
        return not self.allow()


class Upstream:
    """Calls to the upstream store; 5xx and transport errors count against the breaker."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 6.0,
        connect_timeout: float = 2.0,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            transport=transport,
            follow_redirects=False,
        )
        self.breaker = breaker or CircuitBreaker()

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: httpx.QueryParams | str | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """One call; UpstreamUnavailable on transport errors, 5xx or an open circuit."""
        if not self.breaker.allow():
            raise UpstreamUnavailable(
                f"the upstream store {self.base_url} is failing; retrying after a short cooldown"
            )
        try:
            response = await self.client.request(
                method, path, headers=headers, params=params, content=content
            )
        except httpx.HTTPError as exc:
            self.breaker.record_failure()
            reason = "timed out" if isinstance(exc, httpx.TimeoutException) else type(exc).__name__
            raise UpstreamUnavailable(
                f"the upstream store {self.base_url} is unreachable ({reason})"
            ) from None
        if response.status_code >= 500:
            self.breaker.record_failure()
            raise UpstreamUnavailable(
                f"the upstream store {self.base_url} answered {response.status_code}"
            )
        self.breaker.record_success()
        return response

    async def check(self) -> None:
        """Health check: the upstream answers at all (any status below 500)."""
        response = await self.client.head("/", timeout=2.0)
        if response.status_code >= 500:
            raise RuntimeError(f"upstream answered {response.status_code}")

    async def aclose(self) -> None:
        await self.client.aclose()
