"""Cached relaying of the read-only device endpoints (info, find, sections, names).

A fresh answer is kept for a short TTL and, separately, as the "last good" answer for a long
one; when the upstream is away the last good answer is served (stale-if-error). Upstream
404s are cached briefly. Keys hold everything that changes the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog
from fastapi import Request, Response

from shared.cache import Cache, cache_key
from shared.errors import UpstreamUnavailable
from shared.revisions_api import Observation
from shared.upstream import Upstream, relayed_headers, response_headers

log = structlog.get_logger(__name__)

Rewriter = Callable[[dict[str, Any], str, Observation], None]
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
class Answer:
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

    def response(self, **extra_headers: str) -> Response:
        return Response(
            self.body,
            status_code=self.status,
            media_type=self.media_type,
            headers={**self.headers, **extra_headers},
        )


@dataclass(frozen=True)
class RelayPolicy:
    kind: str
    ttl: int
    not_found_ttl: int
    stale_ttl: int
    rewrite: Rewriter | None = None


def answer_key(kind: str, request: Request, base_url: str) -> str:
    headers = [request.headers.get(name, "") for name in _KEY_HEADERS]
    query = "&".join(sorted(request.url.query.split("&")))
    return cache_key(kind, request.url.path, query, base_url, *headers)


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
    request: Request,
    *,
    upstream: Upstream,
    cache: Cache,
    policy: RelayPolicy,
    base_url: str,
    upstream_path: str | None = None,
) -> tuple[Response, Observation]:
    """Answer from cache, else upstream (caching the answer), else the last good answer."""
    private = "authorization" in request.headers
    key = answer_key(policy.kind, request, base_url)
    if not private and (cached := await cache.get(key)) is not None:
        answer = Answer.decode(cached)
        if answer is not None:
            return answer.response(**{"X-Snapproxy-Cache": "hit"}), Observation()
    try:
        upstream_response = await upstream.request(
            "GET",
            upstream_path or request.url.path,
            headers=relayed_headers(request.headers.items()),
            params=request.url.query or None,
        )
    except UpstreamUnavailable:
        stale = None if private else await cache.get("stale:" + key)
        answer = Answer.decode(stale) if stale is not None else None
        if answer is None:
            raise
        log.warning("upstream.stale_answer", kind=policy.kind, path=request.url.path)
        return answer.response(**{"X-Snapproxy-Cache": "stale"}), Observation()
    body, observation = _rewritten(upstream_response, policy, base_url)
    answer = Answer(
        status=upstream_response.status_code,
        media_type=upstream_response.headers.get("content-type", "application/json"),
        headers=response_headers(upstream_response),
        body=body,
    )
    if not private:
        if answer.status == 200:
            await cache.set(key, answer.encode(), policy.ttl)
            await cache.set("stale:" + key, answer.encode(), policy.stale_ttl)
        elif answer.status == 404:
            await cache.set(key, answer.encode(), policy.not_found_ttl)
    return answer.response(**{"X-Snapproxy-Cache": "miss"}), observation
