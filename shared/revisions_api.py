"""The revisions service's internal API: its messages, and the client other services use.

Other services never read the revisions tables; they ask the revisions service (in-process
when embedded, over loopback or the cluster network when split). Every call carries the
internal secret (the peer clients of ``shared.app.Resources`` add it).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import httpx
import structlog
from pydantic import BaseModel, Field

from shared.logging import current_request_id

log = structlog.get_logger(__name__)


class RevisionIn(BaseModel):
    snap_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    revision: int = Field(ge=1)
    architectures: list[str] = Field(default_factory=list)
    sha3_384: str = Field(min_length=96, max_length=96)
    size: int = Field(ge=0)
    upstream_url: str = Field(min_length=1)
    snap: dict[str, Any] = Field(default_factory=dict)
    # Seen in an answer to a request with store credentials (not every device may see it).
    private: bool = False


class ChannelIn(BaseModel):
    snap_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    architecture: str = Field(min_length=1, max_length=32)
    channel: str = Field(min_length=1, max_length=128)
    revision: int = Field(ge=1)


class Observation(BaseModel):
    """Revisions and channel positions seen in one upstream answer."""

    revisions: list[RevisionIn] = Field(default_factory=list, max_length=1000)
    channels: list[ChannelIn] = Field(default_factory=list, max_length=5000)


class RevisionOut(BaseModel):
    snap_id: str
    name: str
    revision: int
    architectures: list[str]
    sha3_384: str
    size: int
    upstream_url: str
    snap: dict[str, Any]
    private: bool = False


class ResolveQuery(BaseModel):
    """Find a known revision: by snap-id or name, then by revision or channel."""

    snap_id: str | None = None
    name: str | None = None
    architecture: str
    channel: str | None = None
    revision: int | None = None


class ResolveRequest(BaseModel):
    queries: list[ResolveQuery] = Field(max_length=1000)


class ResolveAnswer(BaseModel):
    results: list[RevisionOut | None]


def facts_key(snap_id: str, revision: int) -> str:
    """The shared-cache key of a revision's download facts: the downloads service fills it
    (read-through), the revisions service drops it whenever it records that revision."""
    return f"revision-facts:{snap_id}:{revision}"


def _revision_key(item: RevisionIn) -> tuple[object, ...]:
    return (
        "r",
        item.snap_id,
        item.revision,
        item.sha3_384,
        item.size,
        item.upstream_url,
        bool(item.snap),
        item.private,
    )


def _channel_key(item: ChannelIn) -> tuple[object, ...]:
    return ("c", item.snap_id, item.architecture, item.channel, item.revision)


class RecentSet:
    """Keys seen within the last ``ttl`` seconds (bounded; oldest forgotten first)."""

    def __init__(self, ttl: float, max_entries: int = 50_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[object, ...], float] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        seen_at = self._seen.get(key)  # type: ignore[call-overload]
        return seen_at is not None and time.monotonic() - seen_at < self.ttl

    def add_all(self, keys: list[tuple[object, ...]]) -> None:
        now = time.monotonic()
        for key in keys:
            self._seen[key] = now
            self._seen.move_to_end(key)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)


class RevisionsClient:
    """Calls to the revisions service; failures are logged and answered as 'unknown'."""

    def __init__(
        self, peers: dict[str, httpx.AsyncClient], timeout: float = 3.0, remember: float = 60.0
    ) -> None:
        self.peers = peers  # filled after the apps are built when embedded: look up late
        self.timeout = timeout
        # What this process recorded lately: most refreshes repeat what the last one said,
        # and writing it again on every device request is the refresh path's main cost.
        self.recent = RecentSet(remember)

    @property
    def client(self) -> httpx.AsyncClient:
        return self.peers["revisions"]

    @staticmethod
    def _headers(**extra: str) -> dict[str, str]:
        request_id = current_request_id()
        return {**extra, "X-Request-Id": request_id} if request_id else extra

    async def record(self, observation: Observation) -> None:
        revisions = [r for r in observation.revisions if _revision_key(r) not in self.recent]
        channels = [c for c in observation.channels if _channel_key(c) not in self.recent]
        if not revisions and not channels:
            return
        observation = Observation(revisions=revisions, channels=channels)
        try:
            response = await self.client.post(
                "/_internal/observations",
                content=observation.model_dump_json(),
                headers=self._headers(**{"content-type": "application/json"}),
                timeout=self.timeout,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("revisions.record_failed", error=str(exc) or type(exc).__name__)
            return
        self.recent.add_all([_revision_key(r) for r in revisions])
        self.recent.add_all([_channel_key(c) for c in channels])

    async def get(self, snap_id: str, revision: int) -> RevisionOut | None:
        try:
            response = await self.client.get(
                f"/_internal/revisions/{snap_id}/{revision}",
                headers=self._headers(),
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            log.warning("revisions.lookup_failed", error=str(exc) or type(exc).__name__)
            return None
        if response.status_code != 200:
            return None
        return RevisionOut.model_validate_json(response.content)

    async def resolve(self, queries: list[ResolveQuery]) -> list[RevisionOut | None]:
        if not queries:
            return []
        try:
            response = await self.client.post(
                "/_internal/resolve",
                content=ResolveRequest(queries=queries).model_dump_json(),
                headers=self._headers(**{"content-type": "application/json"}),
                timeout=self.timeout,
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("revisions.resolve_failed", error=str(exc) or type(exc).__name__)
            return [None] * len(queries)
        return ResolveAnswer.model_validate_json(response.content).results
