"""The blob cache's one entry: :meth:`BlobCache.open` gives a hit, or a stream of a fill.

Each snap revision crosses the internet once, however many devices, processes or replicas
ask at the same time: the first request claims the fill (``ledger``), this process fills it
(``fills``) and everyone streams from the growing file (``follower``). The parts below never
call back up; a driver task per blob per process (``drivers``) runs them in order, and takes
a fill over at once when its owner dies, so the blob's followers carry on from the new
owner's file.

A hit is one ``stat`` (none for a blob found in the last seconds, ``storage``): no database,
no network. Its counters and LRU touch are batched (``counters``). Blobs that cannot fit, and
resumes far beyond a running fill, are streamed from the upstream uncached (``passthrough``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import TypeVar

import httpx
import structlog

from services.downloads import metrics
from services.downloads.answers import (
    CacheLimits,
    Chunk,
    FillProgress,
    Hit,
    Requester,
    Stream,
)
from services.downloads.counters import HitCounters
from services.downloads.drivers import FillDrivers
from services.downloads.errors import NotFillingHere, StorageUnavailable
from services.downloads.eviction import Evictor
from services.downloads.fills import Filler, FillState
from services.downloads.follower import follow, follow_bytes
from services.downloads.housekeeping import Housekeeping
from services.downloads.keyed_locks import KeyedLocks
from services.downloads.ledger import Ledger
from services.downloads.passthrough import Relayed, open_passthrough
from services.downloads.revision_index import RevisionFacts
from services.downloads.storage import BlobStore, StoredBlob
from shared.errors import BadRequest
from shared.outbound import Outbound

log = structlog.get_logger(__name__)
T = TypeVar("T")
OBJECT_READ = 1024 * 1024


class BlobCache(Housekeeping):
    def __init__(
        self,
        *,
        store: BlobStore,
        ledger: Ledger,
        evictor: Evictor,
        counters: HitCounters,
        client: httpx.AsyncClient,
        allows: Callable[[str], bool],
        upstream_url: str,
        io: Executor,
        limits: CacheLimits,
        lease_timeout: float,
        peers: httpx.AsyncClient,
        node_url: str | None = None,
        outbound: Outbound | None = None,
    ) -> None:
        super().__init__(store=store, ledger=ledger, evictor=evictor, counters=counters, io=io)
        self.client = client
        self.allows = allows
        self.upstream_url = upstream_url
        self.outbound = outbound or Outbound()
        self.limits = limits
        self.lease_timeout = lease_timeout
        filler = Filler(
            client=client,
            allows=allows,
            upstream_url=upstream_url,
            outbound=self.outbound,
            store=store,
            ledger=ledger,
            evictor=evictor,
            io=io,
        )
        self.drivers = FillDrivers(
            filler=filler,
            store=store,
            ledger=ledger,
            io=io,
            limits=limits,
            peers=peers,
            node_url=node_url,
        )
        self.settling = KeyedLocks()  # per blob: who fills it is settled once at a time

    async def find(self, sha3_384: str, recheck: bool = False) -> StoredBlob | None:
        """The committed blob: what the store found lately, else a look in its thread
        (``recheck``: always look; the gateway found a remembered file gone)."""
        if not recheck and (stored := self.store.recent(sha3_384)) is not None:
            return stored
        return await self._in_thread(self.store.find, sha3_384)

    async def open(
        self,
        facts: RevisionFacts,
        byte_range: tuple[int, int] | None,
        requester: Requester,
        recheck: bool = False,
        zero_copy: bool = False,
    ) -> Hit | Stream:
        """A committed blob, or the bytes of ``byte_range`` (or all) as they arrive
        (``zero_copy``: a fill's local file in parts, for the server to send)."""
        stored = await self.find(facts.sha3_384, recheck)
        if stored is not None:
            sent = byte_range[1] - byte_range[0] + 1 if byte_range else facts.size
            self.counters.hit(facts.name, facts.sha3_384, sent)
            if stored.path is not None:
                return Hit(stored)
            if self.limits.object_urls_seconds:  # the gateway (or the client) fetches it
                url = self.store.presigned_url(facts.sha3_384, self.limits.object_urls_seconds)
                return Hit(stored, url)
            return Stream(self._object_bytes(facts.sha3_384, byte_range or (0, facts.size - 1)))
        start, end = byte_range or (0, facts.size - 1)
        state = self.drivers.followable(facts.sha3_384)
        if state is None:
            found = await self._settle(facts, requester)
            if found is None:
                log.info("cache.too_big_to_cache", snap=facts.name, size=facts.size)
                return await self._passthrough(facts, byte_range, requester)
            if isinstance(found, Hit):
                return found
            state = found
        if start - state.available > self.limits.resume_ahead:
            log.info("cache.resume_ahead_of_fill", snap=facts.name, start=start)
            return await self._passthrough(facts, (start, end), requester)
        self.counters.miss(facts.name)
        body = follow(state, self.store, self.io, start, end, self.limits.stall_limit, zero_copy)
        return Stream(await _started(self._followed(facts.name, state, body)))

    async def _settle(self, facts: RevisionFacts, requester: Requester) -> FillState | Hit | None:
        """Who fills ``facts``' blob; None when it cannot fit. This process's requests for
        one blob settle it one at a time: fifty devices asking for a new snap at once make
        one claim in the ledger, and the other forty-nine find its fill."""
        async with self.settling.hold(facts.sha3_384):
            if (state := self.drivers.followable(facts.sha3_384)) is not None:
                return state
            if not await self.evictor.fits(facts.size):
                return None
            return await self.drivers.join_or_start(facts, requester)

    def _followed(
        self, name: str, state: FillState, body: AsyncIterator[Chunk]
    ) -> AsyncIterator[Chunk]:
        """A follower's bytes, counted (bytes relayed) and seen in the list of fills."""

        async def counted() -> AsyncIterator[Chunk]:
            state.followers += 1
            sent = 0
            try:
                async for chunk in body:
                    sent += len(chunk)
                    yield chunk
            finally:
                state.followers -= 1
                self.counters.add(name, bytes_relayed=sent)

        return counted()

    async def prefetch(self, facts: RevisionFacts) -> str:
        """Fill ``facts``' blob with no one waiting for it: ``cached`` (it is stored),
        ``filling`` (a fill is running), or ``started``; BadRequest when it cannot fit."""
        if await self.find(facts.sha3_384) is not None:
            return "cached"
        if self.drivers.followable(facts.sha3_384) is not None:
            return "filling"
        found = await self._settle(facts, Requester())
        if found is None:
            raise BadRequest(f"{facts.name} ({facts.size} bytes) does not fit in the cache")
        if isinstance(found, Hit):
            return "cached"
        return "started" if found.owner == self.drivers.owner else "filling"

    async def fills_in_progress(self) -> list[FillProgress]:
        """Every fill lease, with the bytes written so far where this node can tell (its
        own fills, and those of processes on its disk) and the followers of this process."""
        found = []
        for lease in await self.ledger.fills():
            state = self.drivers.fills.get(lease.sha3_384)
            written: int | None = None
            if state is not None and state.owner == lease.owner:
                written = state.available
            elif lease.node_url is None or lease.node_url == self.drivers.node_url:
                path = self.store.partial_path(lease.partial_name)
                written = await self._in_thread(_file_size, path)
            found.append(
                FillProgress(
                    name=lease.name,
                    revision=lease.revision,
                    sha3_384=lease.sha3_384,
                    size=lease.size,
                    written=written,
                    followers=state.followers if state is not None else None,
                    started_at=lease.started_at,
                    heartbeat_at=lease.heartbeat_at,
                )
            )
        return sorted(found, key=lambda fill: (fill.started_at, fill.sha3_384))

    def own_fill_bytes(self, sha3_384: str, start: int) -> AsyncIterator[bytes]:
        """The bytes from ``start`` of a blob this process is filling, as they arrive (for
        the downloads processes of other nodes); NotFillingHere when it fills no such blob."""
        state = self.drivers.own_fill(sha3_384)
        if state is None:
            raise NotFillingHere("this process is not filling that blob")
        if start > state.size:
            raise BadRequest(f"start is past the blob's {state.size} bytes")
        stall_limit = self.limits.stall_limit
        return follow_bytes(state, self.store, self.io, start, state.size - 1, stall_limit)

    async def _object_bytes(
        self, sha3_384: str, byte_range: tuple[int, int]
    ) -> AsyncIterator[bytes]:
        """A stored object's bytes, read in ranges (a hit streamed by this process)."""
        position, end = byte_range
        while position <= end:
            length = min(OBJECT_READ, end - position + 1)
            chunk = await self._in_thread(self.store.read, sha3_384, position, length)
            if not chunk:
                raise StorageUnavailable("the stored blob is shorter than recorded")
            position += len(chunk)
            yield chunk

    async def _passthrough(
        self, facts: RevisionFacts, byte_range: tuple[int, int] | None, requester: Requester
    ) -> Stream:
        self.counters.miss(facts.name)
        relayed = Relayed()
        body = await open_passthrough(
            self.client,
            self.allows,
            facts,
            byte_range,
            relayed,
            self.io,
            requester.credentials,
            self.upstream_url,
            self.outbound,
        )

        async def counted() -> AsyncIterator[bytes]:
            try:
                async for chunk in body:
                    yield chunk
            finally:
                self.counters.add(
                    facts.name, bytes_from_upstream=relayed.bytes, bytes_relayed=relayed.bytes
                )
                metrics.CACHE_UPSTREAM_BYTES.labels("passthrough").inc(relayed.bytes)

        return Stream(await _started(counted()))

    async def start(self) -> None:
        self.counters.start()
        try:
            await self.sweep_orphans()
        except Exception as exc:  # the database may be away at start: sweep next time
            log.warning("cache.sweep_failed", error=str(exc) or type(exc).__name__)

    async def aclose(self) -> None:
        """Let running fills finish within the grace, then hand the rest over."""
        self.cancel_retired_drops()
        await self.drivers.aclose()
        await self.counters.stop()
        await self.client.aclose()
        await self.drivers.peers.aclose()


def _file_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


async def _started(body: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
    """Wait for the first bytes (so a fill that fails at once is a clean error)."""
    iterator = body.__aiter__()
    first: Chunk
    try:
        first = await anext(iterator)
    except StopAsyncIteration:
        first = b""

    async def rest() -> AsyncIterator[Chunk]:
        if first:
            yield first
        async for chunk in iterator:
            yield chunk

    return rest()
