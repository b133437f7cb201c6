"""Cached relaying of the read-only device endpoints (info, find, sections, names).

A fresh answer is kept for a short TTL and, separately, as the "last good" answer for a long
one; when the upstream is away the last good answer is served (stale-if-error). Upstream
404s are cached briefly. Keys hold everything that changes the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx
import structlog

from shared.cache import Cache, cache_key
from shared.credentials import credentials_digest, store_credentials
from shared.errors import UpstreamUnavailable
from shared.revisions_api import Observation
from shared.upstream import Upstream, response_headers

log = structlog.get_logger(__name__)

Rewriter = Callable[[dict[str, Any], str, Observation], None]
CACHE_HEADER = "X-Snapproxy-Cache"
_KEY_HEADERS = (
    "snap-device-architecture",
    "x-ubuntu-architecture",
    "snap-device-series",
    "x-ubuntu-series",
    "snap-device-store",
    "x-ubuntu-store",
    "snap-classic",
    "x-ubuntu-classic",
    "accept",
)


@dataclass(frozen=True)
class DeviceRequest:
    """A device API request, in plain values: the headers that go upstream with it (already
    checked: ``shared.upstream.relayed_headers``), the path and query it asked for (relayed
    as they are), and the URL the device reached the proxy at."""

    headers: Mapping[str, str]
    base_url: str
    path: str = ""
    query: str = ""
    address: str | None = None  # the client's, as the gateway saw it
    user_agent: str | None = None


@dataclass(frozen=True)
class Answer:
    """What the device gets: status, Content-Type, extra headers and the body bytes."""

    status: int
    media_type: str
    headers: dict[str, str]
    body: bytes

    def encode(self) -> bytes:
        meta = {"s": self.status, "t": self.media_type, "h": self.headers}
        return json.dumps(meta).encode() + b"\n" + self.body

    @classmethod
    def decode(cls, data: bytes) -> Answer | None:
        meta_line, _, body = data.partition(b"\n")
        try:
            meta = json.loads(meta_line)
            return cls(int(meta["s"]), str(meta["t"]), dict(meta["h"]), body)
        except (ValueError, KeyError, TypeError):
            return None

    def with_headers(self, **extra_headers: str) -> Answer:
        return replace(self, headers={**self.headers, **extra_headers})


@dataclass(frozen=True)
class RelayPolicy:
    kind: str
    ttl: int
    not_found_ttl: int
    stale_ttl: int
    rewrite: Rewriter | None = None


def mark_private(observation: Observation) -> None:
    """The revisions came in an answer to a credentialed request: only requesters the
    upstream gives them to may download them (until an anonymous answer shows them too)."""
    for revision in observation.revisions:
        revision.private = True


def answer_key(kind: str, request: DeviceRequest) -> str:
    """Everything that changes the answer: the path, the query (in any order), the proxy's
    URL (it is in the rewritten download URLs) and the headers that select what is shown."""
    folded = {name.lower(): value for name, value in request.headers.items()}
    headers = [folded.get(name, "") for name in _KEY_HEADERS]
    query = "&".join(sorted(request.query.split("&")))
    return cache_key(kind, request.path, query, request.base_url, *headers)


def _rewritten(
    response: httpx.Response, policy: RelayPolicy, base_url: str
) -> tuple[bytes, Observation]:
    observation = Observation()
    if policy.rewrite is None or response.status_code != 200:
        return response.content, observation
    try:
        document = response.json()
    except ValueError:
        return response.content, observation
    if not isinstance(document, dict):
        return response.content, observation
    policy.rewrite(document, base_url, observation)
    return json.dumps(document, separators=(",", ":")).encode(), observation


async def relay_get(
    request: DeviceRequest, *, upstream: Upstream, cache: Cache, policy: RelayPolicy
) -> tuple[Answer, Observation]:
    """Answer from cache, else upstream (caching the answer), else the last good answer.

    An answer to a request with store credentials is cached for that requester only (its
    key holds their digest) and the revisions it shows are recorded as private."""
    credentials = store_credentials(request.headers)
    key = answer_key(policy.kind, request)
    if credentials:
        key = cache_key("private", credentials_digest(credentials), key)
    if (cached := await cache.get(key)) is not None:
        answer = Answer.decode(cached)
        if answer is not None:
            return answer.with_headers(**{CACHE_HEADER: "hit"}), Observation()
    try:
        upstream_response = await upstream.request(
            "GET", request.path, headers=request.headers, params=request.query or None
        )
    except UpstreamUnavailable:
        stale = await cache.get("stale:" + key)
        answer = Answer.decode(stale) if stale is not None else None
        if answer is None:
            raise
        log.warning("upstream.stale_answer", kind=policy.kind, path=request.path)
        return answer.with_headers(**{CACHE_HEADER: "stale"}), Observation()
    body, observation = _rewritten(upstream_response, policy, request.base_url)
    if credentials:
        mark_private(observation)
    answer = Answer(
        status=upstream_response.status_code,
        media_type=upstream_response.headers.get("content-type", "application/json"),
        headers=response_headers(upstream_response),
        body=body,
    )
    if answer.status == 200:
        await cache.set(key, answer.encode(), policy.ttl)
        await cache.set("stale:" + key, answer.encode(), policy.stale_ttl)
    elif answer.status == 404:
        await cache.set(key, answer.encode(), policy.not_found_ttl)
    return answer.with_headers(**{CACHE_HEADER: "miss"}), observation
