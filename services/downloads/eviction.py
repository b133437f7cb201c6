"""Keeping the cache under its size cap and above its free-space reserve (LRU).

Nothing is evicted for a blob that cannot fit: :meth:`Evictor.fits` is asked first, and a
blob larger than the cap, or than the free space plus everything evictable minus the reserve,
is streamed through uncached instead.

The reserve is sized to the volume: on a volume smaller than ten times the configured
reserve, it is a tenth of the volume (a small test volume must not look full at start).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

import structlog

from services.downloads import metrics
from services.downloads.counters import HitCounters
from services.downloads.ledger import Ledger
from services.downloads.storage import BlobStore
from shared.config.live import LiveSettings

log = structlog.get_logger(__name__)
T = TypeVar("T")
RESERVE_SHARE = 10  # the reserve is at most 1/10 of the volume


def effective_reserve(configured: int, volume: int) -> int:
    return min(configured, volume // RESERVE_SHARE)


class Evictor:
    def __init__(
        self,
        *,
        live: LiveSettings,
        min_free: int,
        store: BlobStore,
        ledger: Ledger,
        counters: HitCounters,
        io: Executor,
    ) -> None:
        self.live = live
        self.counters = counters
        self.store = store
        self.ledger = ledger
        self.io = io
        self.reserve = effective_reserve(min_free, store.volume_bytes())
        if self.reserve < min_free:
            log.warning(
                "cache.reserve_reduced",
                configured=min_free,
                reserve=self.reserve,
                reason="the cache volume is smaller than ten times SNAPPROXY_CACHE_MIN_FREE",
            )
        self.lock = asyncio.Lock()

    @property
    def max_size(self) -> int | None:
        """The cap now (proxy.cache.size is a live key: ``snap-proxy config`` changes it in
        every replica within seconds)."""
        return self.live.current.cache_max_size_bytes

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.io, function, *args)

    async def fits(self, size: int) -> bool:
        """Whether a blob of ``size`` bytes can be stored (evicting unpinned blobs if need be)."""
        max_size = self.max_size
        if max_size is not None and size > max_size:
            return False
        total, unpinned = await self.ledger.sizes()
        pinned = total - unpinned
        if max_size is not None and pinned + size > max_size:
            return False
        free = await self._in_thread(self.store.free_bytes)
        # Evicting frees disk only where the blobs are on it (not in an object store, where
        # the disk holds the fill's partial file alone).
        evictable = unpinned if self.store.kind == "local" else 0
        return free + evictable - self.reserve >= size

    def _over(self, total: int, free: int, extra: int) -> bool:
        max_size = self.max_size
        too_big = max_size is not None and total + extra > max_size
        short_of_disk = self.store.kind == "local" and free - extra < self.reserve
        return too_big or short_of_disk

    async def make_room(self, extra: int, keep: str | None = None) -> int:
        """Evict least-recently-used unpinned blobs until ``extra`` more bytes fit; returns
        how many were evicted."""
        evicted = 0
        async with self.lock:
            total, _ = await self.ledger.sizes()
            flushed = False
            while self._over(total, await self._in_thread(self.store.free_bytes), extra):
                if not flushed:  # the batched LRU touches decide who goes: write them first
                    await self.counters.flush()
                    flushed = True
                candidates = await self.ledger.eviction_candidates(keep)
                if not candidates:
                    log.warning("cache.cannot_make_room", needed=extra, total=total)
                    return evicted
                victim = candidates[0]
                if await self.ledger.forget(victim):
                    total -= victim.size
                    evicted += 1
                    metrics.evicted("lru", victim.size)
                await self._in_thread(self.store.delete, victim.sha3_384)
                log.info("cache.evicted", snap=victim.name, revision=victim.revision)
        return evicted

    def healthy_free_space(self, free: int) -> bool:
        return free >= self.reserve // 2
