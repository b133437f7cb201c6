"""Which blob a download URL names: a read-through cache in front of the revisions service.

A download's revision facts (name, sha3, size, upstream URL, private or not) come from a
process-local LRU, else the shared cache (memcached, or the in-process cache when
embedded), else the revisions service over its internal API; each layer fills the ones
above it. A hit on a cached blob therefore needs no network hop and no database.

Revisions nobody has seen in a refresh yet are looked up upstream (anonymously first, then
with the requester's own store credentials: such a revision is private, see
:meth:`RevisionIndex.confirm`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import asdict, dataclass

import structlog

from services.downloads.expiring import Expiring
from shared.cache import Cache
from shared.credentials import credentials_digest
from shared.revisions_api import (
    Observation,
    RevisionIn,
    RevisionOut,
    RevisionsClient,
    facts_key,
)
from shared.upstream import Upstream
from shared.upstream_lookup import lookup_revision

log = structlog.get_logger(__name__)

LOCAL_TTL = 30.0  # seconds a process trusts what it looked up (facts change rarely)
SHARED_TTL = 300  # seconds the shared cache keeps them
CONFIRM_TTL = 300.0  # seconds an upstream "yes, these credentials may have it" is reused


@dataclass(frozen=True)
class RevisionFacts:
    """What the download path needs of one snap revision."""

    snap_id: str
    name: str
    revision: int
    sha3_384: str
    size: int
    upstream_url: str
    private: bool = False

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> RevisionFacts | None:
        try:
            return cls(**json.loads(data))
        except (ValueError, TypeError):
            return None

    @classmethod
    def of(cls, revision: RevisionOut | RevisionIn) -> RevisionFacts:
        return cls(
            snap_id=revision.snap_id,
            name=revision.name,
            revision=revision.revision,
            sha3_384=revision.sha3_384,
            size=revision.size,
            upstream_url=revision.upstream_url,
            private=revision.private,
        )


class _SharedCalls:
    """Concurrent calls for one key share the first one's answer (or error): fifty devices
    asking at once for a revision this process has not looked up make one lookup."""

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Future[RevisionFacts | None]] = {}

    async def run(
        self, key: Hashable, call: Callable[[], Awaitable[RevisionFacts | None]]
    ) -> RevisionFacts | None:
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(call())
            self._running[key] = running
            running.add_done_callback(lambda _: self._running.pop(key, None))
            # Its error is each waiter's to raise; marked as seen for when none is left.
            running.add_done_callback(lambda done: done.cancelled() or done.exception())
        # shield: a caller that goes away (its device hung up) does not cancel the others'.
        return await asyncio.shield(running)


class RevisionIndex:
    def __init__(self, cache: Cache, revisions: RevisionsClient, upstream: Upstream) -> None:
        self.cache = cache
        self.revisions = revisions
        self.upstream = upstream
        self.local: Expiring[RevisionFacts] = Expiring(LOCAL_TTL)
        self.confirmed: Expiring[bool] = Expiring(CONFIRM_TTL)
        self.still_private: Expiring[bool] = Expiring(CONFIRM_TTL)
        self.shared = _SharedCalls()

    async def get(self, snap_id: str, revision: int) -> RevisionFacts | None:
        """The recorded facts, through the cache layers; None when nobody recorded them."""
        found: RevisionFacts | None = self.local.get((snap_id, revision))
        if found is not None:
            return found
        return await self.shared.run(
            ("get", snap_id, revision), lambda: self._read(snap_id, revision)
        )

    async def _read(self, snap_id: str, revision: int) -> RevisionFacts | None:
        """The shared cache, else the revisions service (each fills the layers above it)."""
        key = (snap_id, revision)
        cached = await self.cache.get(facts_key(snap_id, revision))
        found = RevisionFacts.decode(cached) if cached is not None else None
        if found is None:
            recorded = await self.revisions.get(snap_id, revision)
            if recorded is None:
                return None
            found = RevisionFacts.of(recorded)
            await self.cache.set(facts_key(snap_id, revision), found.encode(), SHARED_TTL)
        self.local.put(key, found)
        return found

    async def _learn(self, found: RevisionIn) -> RevisionFacts:
        await self.revisions.record(Observation(revisions=[found]))
        facts = RevisionFacts.of(found)
        await self.cache.set(facts_key(facts.snap_id, facts.revision), facts.encode(), SHARED_TTL)
        self.local.put((facts.snap_id, facts.revision), facts)
        return facts

    async def discover(
        self, snap_id: str, revision: int, device: Mapping[str, str], credentials: Mapping[str, str]
    ) -> RevisionFacts | None:
        """Ask the upstream about a revision nobody recorded: anonymously (then it is public),
        else with the requester's credentials (then it is private). Concurrent requests for
        one revision share the anonymous question (asked with the first one's device
        headers)."""

        learned: RevisionFacts | None = self.local.get((snap_id, revision))
        if learned is not None and not learned.private:
            # A concurrent request learned it after this one's get() found nothing.
            return learned

        async def anonymously() -> RevisionFacts | None:
            found = await lookup_revision(self.upstream, snap_id, revision, device)
            return await self._learn(found) if found is not None else None

        public = await self.shared.run(("discover", snap_id, revision), anonymously)
        if public is not None:
            return public
        if not credentials:
            return None
        found = await lookup_revision(
            self.upstream, snap_id, revision, {**device, **credentials}, private=True
        )
        if found is None:
            return None
        self.confirmed.put((credentials_digest(credentials), snap_id, revision), True)
        return await self._learn(found)

    async def confirm(
        self, facts: RevisionFacts, device: Mapping[str, str], credentials: Mapping[str, str]
    ) -> RevisionFacts | None:
        """May this requester have a private revision? First, is it public by now (asked
        anonymously: then it is recorded as public for everyone); else, does the upstream
        give it to these credentials. None means no."""
        if not self.still_private.get((facts.snap_id, facts.revision)):
            public = await lookup_revision(self.upstream, facts.snap_id, facts.revision, device)
            if public is not None and public.sha3_384 == facts.sha3_384:
                log.info("downloads.revision_public", snap=facts.name, revision=facts.revision)
                return await self._learn(public)
            self.still_private.put((facts.snap_id, facts.revision), True)
        if not credentials:
            return None
        key = (credentials_digest(credentials), facts.snap_id, facts.revision)
        if self.confirmed.get(key):
            return facts
        given = await lookup_revision(
            self.upstream, facts.snap_id, facts.revision, {**device, **credentials}, private=True
        )
        if given is None or given.sha3_384 != facts.sha3_384:
            return None
        self.confirmed.put(key, True)
        return facts
