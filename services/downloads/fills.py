"""Filling the cache with one blob: upstream, then a partial file, then verify, then commit.

:class:`FillState` is what followers read: which partial file is being written, how much of
it is there, and whether the blob was verified or the fill failed. One state per blob per
process, whoever fills it (this process, or another one that this process watches).

The :class:`Filler` owns a fill from start to end; file writes, hashing and fsync run in the
blob I/O thread pool, one writer at a time per fill, so the event loop never blocks on the
disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import structlog

from services.downloads import metrics
from services.downloads.errors import FillError
from services.downloads.eviction import Evictor
from services.downloads.fetch import open_upstream_blob
from services.downloads.ledger import HEARTBEAT_EVERY, Ledger
from services.downloads.ownership import OwnerLock
from services.downloads.revision_index import RevisionFacts
from services.downloads.storage import BlobStore, BlobWriter
from shared.models import CacheEntry
from shared.outbound import Outbound

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass
class FillState:
    """One blob being filled, as this process's followers see it."""

    sha3_384: str
    size: int
    path: Path
    owner: str
    available: int = 0
    verified: bool = False
    failed: FillError | None = None
    version: int = 0  # bumped on every change, so a waiter never misses one
    followers: int = 0  # responses of this process streaming it now (the admin's list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def finished(self) -> bool:
        return self.verified or self.failed is not None

    async def notify(self) -> None:
        self.version += 1
        async with self.changed:
            self.changed.notify_all()

    async def switch(self, path: Path, owner: str) -> None:
        """Another fill (a new owner, a new partial file) took over this blob."""
        self.path, self.owner, self.available = path, owner, 0
        await self.notify()

    async def wait_past(self, version: int, timeout: float) -> None:
        """Wait until something changed since ``version`` (or ``timeout`` passed)."""
        async with self.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.changed.wait_for(lambda: self.version != version), timeout
                )


def local_failure(exc: OSError) -> FillError:
    """A disk error of the proxy's own, said as such (never as the upstream's fault)."""
    reason = "its cache volume is full" if exc.errno == errno.ENOSPC else "its cache volume failed"
    return FillError(
        f"the proxy could not store this snap: {reason} ({exc.strerror or exc})", local=True
    )


class Filler:
    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        allows: Callable[[str], bool],
        upstream_url: str,
        outbound: Outbound,
        store: BlobStore,
        ledger: Ledger,
        evictor: Evictor,
        io: Executor,
    ) -> None:
        self.client = client
        self.allows = allows
        self.upstream_url = upstream_url
        self.outbound = outbound
        self.store = store
        self.ledger = ledger
        self.evictor = evictor
        self.io = io

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.io, function, *args)

    async def run(
        self,
        state: FillState,
        facts: RevisionFacts,
        lock: OwnerLock,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        """Fill ``state.path``; on return the state is verified or failed. Cancelled (the
        process is stopping), the lease is left for another process to take over at once.
        A private revision is fetched with ``credentials``, those of a requester the upstream
        gives it to."""
        writer = self.store.writer(state.path, facts.sha3_384)
        fill = asyncio.current_task()
        assert fill is not None
        heartbeat = asyncio.create_task(self._heartbeat(state, lock, fill))
        metrics.CACHE_FILLS_IN_FLIGHT.inc()
        try:
            await self.evictor.make_room(facts.size, keep=facts.sha3_384)
            response = await open_upstream_blob(
                self.client,
                facts.upstream_url,
                allows=self.allows,
                credentials=credentials if facts.private else None,
                upstream_url=self.upstream_url,
                outbound=self.outbound,
            )
            try:
                await self._copy(response, writer, state)
            finally:
                await response.aclose()
            digest = await self._in_thread(writer.finish)
            if state.available != facts.size:
                raise FillError(f"upstream sent {state.available} of {facts.size} bytes")
            if digest != facts.sha3_384:
                raise FillError("the bytes do not have the recorded SHA3-384")
            heartbeat.cancel()  # before the commit releases the lease
            await self._in_thread(self.store.commit, writer, facts.sha3_384)
            await self.ledger.commit(_entry(facts), state.owner)
        except asyncio.CancelledError:
            await self._abandon(state, writer)
            raise
        except Exception as exc:
            await self._fail(state, facts, writer, exc)
            return
        finally:
            metrics.CACHE_FILLS_IN_FLIGHT.dec()
            heartbeat.cancel()
            await lock.release()
        metrics.CACHE_FILLS.labels("committed").inc()
        state.verified = True
        await state.notify()
        log.info("cache.filled", snap=facts.name, revision=facts.revision, size=facts.size)
        with contextlib.suppress(Exception):
            await self.evictor.make_room(0, keep=facts.sha3_384)

    async def _copy(self, response: httpx.Response, writer: BlobWriter, state: FillState) -> None:
        chunks: AsyncIterator[bytes] = response.aiter_bytes()
        while True:
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except httpx.HTTPError as exc:
                raise FillError(
                    f"upstream stopped after {state.available} of {state.size} bytes: "
                    f"{type(exc).__name__}"
                ) from None
            if state.available + len(chunk) > state.size:
                raise FillError(f"upstream sent more than the {state.size} bytes recorded")
            try:
                await self._in_thread(writer.write, chunk)
            except OSError as exc:
                raise local_failure(exc) from None
            state.available += len(chunk)
            metrics.CACHE_UPSTREAM_BYTES.labels("fill").inc(len(chunk))
            await state.notify()

    async def _heartbeat(self, state: FillState, lock: OwnerLock, fill: asyncio.Task[None]) -> None:
        """Keep the lease (and the owner lock) while the fill runs, progress or not; cancel
        the fill if another process took the lease."""
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY)
            try:
                await lock.keep(self.ledger.engine)
                alive = await self.ledger.beat(state.sha3_384, state.owner)
            except Exception as exc:  # database away: the lease may lapse; keep trying
                log.warning("cache.heartbeat_failed", error=str(exc) or type(exc).__name__)
                continue
            if not alive:
                log.warning("cache.fill_lease_lost", sha3=state.sha3_384[:16])
                fill.cancel()
                return

    async def _fail(
        self, state: FillState, facts: RevisionFacts, writer: BlobWriter, exc: Exception
    ) -> None:
        if isinstance(exc, FillError):
            failure = exc
        elif isinstance(exc, OSError):
            failure = local_failure(exc)
        else:
            failure = FillError(f"the fill failed: {type(exc).__name__}", local=True)
            log.exception("cache.fill_crashed", snap=facts.name)
        log.warning(
            "cache.fill_failed", snap=facts.name, revision=facts.revision, error=failure.message
        )
        await self._discard(writer)
        try:
            await self.ledger.fail(facts.sha3_384, state.owner, facts.name)
        except Exception as error:  # the lease lapses on its own
            log.warning("cache.release_failed", error=str(error) or type(error).__name__)
        state.failed = failure
        metrics.CACHE_FILLS.labels("failed").inc()
        await state.notify()

    async def _abandon(self, state: FillState, writer: BlobWriter) -> None:
        await asyncio.shield(self._discard(writer))
        with contextlib.suppress(Exception):
            await asyncio.shield(self.ledger.abandon(state.sha3_384, state.owner))
        state.failed = FillError("the proxy is restarting; retry")
        metrics.CACHE_FILLS.labels("abandoned").inc()
        await state.notify()

    async def _discard(self, writer: BlobWriter) -> None:
        try:
            await self._in_thread(writer.abort)
        except Exception as exc:  # the sweep at the next start catches what is left
            log.warning("cache.abort_failed", error=str(exc) or type(exc).__name__)


def _entry(facts: RevisionFacts) -> CacheEntry:
    return CacheEntry(
        sha3_384=facts.sha3_384,
        snap_id=facts.snap_id,
        name=facts.name,
        revision=facts.revision,
        size=facts.size,
    )
