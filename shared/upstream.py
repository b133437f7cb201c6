"""The client for the upstream store: explicit timeouts, header relaying, a circuit breaker.

Every upstream call has a total deadline well under snapd's own 10 s, and a failing upstream is
not hammered: after ``failure_threshold`` consecutive failures calls fail at once for
``cooldown`` seconds, then one trial call decides whether it is back.

The upstream URL may carry credentials (a user and password for a forward proxy): answers to
clients only ever say "the upstream store", and logs show :func:`upstream_label`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from shared.errors import BadRequest, UpstreamUnavailable
from shared.metrics import (
    CIRCUIT_OPEN,
    CIRCUIT_OPENED,
    UPSTREAM_DURATION,
    UPSTREAM_ERRORS,
    UPSTREAM_REQUESTS,
)
from shared.outbound import Outbound

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


# What a relayed header value may hold: visible ASCII, spaces and tabs.
_VISIBLE_ASCII = re.compile(r"[\t\x20-\x7e]*")
# The only Authorization a device sends the store: its own store credentials. Anything else
# there (the admin token's Bearer, Basic, ...) belongs to this suite and never goes upstream.
DEVICE_AUTHORIZATION_SCHEME = "macaroon"


def _relayed(name: str, value: str) -> bool:
    if name not in RELAYED_REQUEST_HEADERS:
        return False
    if name == "authorization":
        return value.strip().split(" ", 1)[0].lower() == DEVICE_AUTHORIZATION_SCHEME
    return True


def relayed_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers of a device's request that go upstream with it; BadRequest when one of
    them holds anything but visible ASCII (snapd sends nothing else, and httpx cannot)."""
    relayed = {}
    for name, value in headers:
        if _relayed(name.lower(), value):
            if not _VISIBLE_ASCII.fullmatch(value):
                raise BadRequest(f"header {name} has characters outside visible ASCII")
            relayed[name] = value
    return relayed


def upstream_label(url: str) -> str:
    """The upstream URL for logs and operators: password and query hidden (as the database
    URL's password is), fragment dropped."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    if at:
        user, colon, _ = userinfo.partition(":")
        host = f"{user}{':***' if colon else ''}@{host}"
    return f"{parts.scheme}://{host}{parts.path}{'?***' if parts.query else ''}"


def response_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: response.headers[name]
        for name in RELAYED_RESPONSE_HEADERS
        if name in response.headers
    }


# Upstream answers that say the store (or its gateway) is down. Any other answer, a 500
# included, says it is up: such a 500 is an error for the request that got it (often caused
# by that request), and it must not cut every device off.
GATEWAY_FAILURES = frozenset({502, 503, 504})


@dataclass
class CircuitBreaker:
    """Closed; open (calls fail at once) after ``failure_threshold`` consecutive failures;
    half-open once ``cooldown`` has passed: one trial call goes out, and while it is under
    way every other caller fails fast as if open. Its outcome closes or re-opens it."""

    failure_threshold: int = 5
    cooldown: float = 10.0
    failures: int = 0
    opened_at: float | None = None
    trial_running: bool = False

    def allow(self) -> bool:
        """Whether a call may go out now. Half-open, the caller let through is the trial."""
        if self.opened_at is None:
            return True
        if self.trial_running or time.monotonic() - self.opened_at < self.cooldown:
            return False
        self.trial_running = True
        return True

    def record_success(self) -> None:
        if self.opened_at is not None:
            CIRCUIT_OPEN.set(0)
        self.failures = 0
        self.opened_at = None
        self.trial_running = False

    def record_failure(self, *, trial: bool = False) -> None:
        self.failures += 1
        if trial:
            self.trial_running = False
        if self.failures >= self.failure_threshold:
            if self.opened_at is None:
                log.warning("upstream.circuit_open", failures=self.failures)
                CIRCUIT_OPEN.set(1)
                CIRCUIT_OPENED.inc()
            self.opened_at = time.monotonic()

    def release_trial(self) -> None:
        """The trial ended without an outcome (cancelled): the next caller may try."""
        self.trial_running = False

    def state(self) -> dict[str, Any]:
        """``closed``; ``open`` (calls fail fast, ``retry-in`` seconds until a trial may go
        out); ``half-open`` (the cooldown has passed: the next call, or the one under way,
        is the trial). With the consecutive failures counted."""
        found: dict[str, Any] = {"state": "closed", "consecutive-failures": self.failures}
        if self.opened_at is not None:
            left = self.cooldown - (time.monotonic() - self.opened_at)
            if left > 0 and not self.trial_running:
                found |= {"state": "open", "retry-in": round(left, 1)}
            else:
                found["state"] = "half-open"
        return found

    @property
    def is_open(self) -> bool:
        """Calls fail fast now: within the cooldown, or while a trial is under way."""
        if self.opened_at is None:
            return False
        return self.trial_running or time.monotonic() - self.opened_at < self.cooldown


class Upstream:
    """Calls to the upstream store, behind one circuit breaker, the way ``outbound`` says
    (a forward proxy, the CAs trusted; the defaults without it)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 6.0,
        connect_timeout: float = 2.0,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        outbound: Outbound | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.label = upstream_label(self.base_url)
        self.timeout = timeout
        self.outbound = outbound or Outbound()
        self.client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            transport=transport,
            follow_redirects=False,
            **self.outbound.client_options(),
        )
        self.breaker = breaker or CircuitBreaker()
        self._check: asyncio.Task[None] | None = None  # the health check under way

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: httpx.QueryParams | str | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """One call; UpstreamUnavailable on transport errors, 5xx or an open circuit.

        Only transport errors, timeouts and 502/503/504 count toward the breaker."""
        if not self.breaker.allow():
            UPSTREAM_ERRORS.labels("circuit-open").inc()
            raise UpstreamUnavailable(
                "the upstream store is failing; retrying after a short cooldown"
            )
        trial = self.breaker.opened_at is not None  # let through while open: the trial
        started = time.perf_counter()
        try:
            response = await self.client.request(
                method, path, headers=headers, params=params, content=content
            )
        except httpx.HTTPError as exc:
            self.breaker.record_failure(trial=trial)
            reason = self.outbound.failure_reason(exc)
            UPSTREAM_REQUESTS.labels(method, "error").inc()
            UPSTREAM_ERRORS.labels("timeout" if reason == "timed out" else "unreachable").inc()
            log.warning(
                "upstream.failed",
                upstream=self.label,
                forward_proxy=self.outbound.proxy_label,
                path=path,
                reason=reason,
            )
            raise UpstreamUnavailable(f"cannot reach the upstream store: {reason}") from None
        except BaseException:
            if trial:
                self.breaker.release_trial()
            raise
        status = response.status_code
        UPSTREAM_DURATION.labels(method).observe(time.perf_counter() - started)
        UPSTREAM_REQUESTS.labels(method, str(status)).inc()
        if status in GATEWAY_FAILURES:
            self.breaker.record_failure(trial=trial)
        else:
            self.breaker.record_success()
        if status >= 500:
            UPSTREAM_ERRORS.labels("status").inc()
            log.warning("upstream.failed", upstream=self.label, path=path, status=status)
            raise UpstreamUnavailable(f"the upstream store answered {status}")
        return response

    async def check(self) -> None:
        """Health check: the upstream answers at all (any status below 500). Its errors
        never name the upstream URL. Checks asked while one is under way share its answer:
        the embedded default's services, asked together, send one request, not three."""
        if self._check is None or self._check.get_loop() is not asyncio.get_running_loop():
            self._check = asyncio.ensure_future(self._check_once())
            self._check.add_done_callback(self._check_done)
        # A caller that gives up (its check's timeout) leaves the request to the others.
        await asyncio.shield(self._check)

    def _check_done(self, task: asyncio.Task[None]) -> None:
        if self._check is task:
            self._check = None
        if not task.cancelled():
            task.exception()  # retrieved: every caller may have given up waiting

    async def _check_once(self) -> None:
        try:
            response = await self.client.head("/", timeout=2.0)
        except httpx.HTTPError as exc:
            reason = self.outbound.failure_reason(exc)
            raise RuntimeError(f"cannot reach the upstream store: {reason}") from None
        if response.status_code >= 500:
            raise RuntimeError(f"the upstream store answered {response.status_code}")

    async def aclose(self) -> None:
        await self.client.aclose()
