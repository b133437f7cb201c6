"""Keeping the cache under its size cap and above the minimum free disk space (LRU)."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.downloads import repository as repo
from services.downloads.storage import BlobStore
from shared.settings import Settings

log = structlog.get_logger(__name__)


class Evictor:
    def __init__(
        self, settings: Settings, store: BlobStore, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        self.max_size = settings.cache_max_size_bytes
        self.min_free = settings.cache_min_free_bytes
        self.store = store
        self.sessionmaker = sessionmaker
        self.lock = asyncio.Lock()

    def _over(self, total: int, extra: int) -> bool:
        too_big = self.max_size is not None and total + extra > self.max_size
        return too_big or self.store.free_bytes() - extra < self.min_free

    async def make_room(self, extra: int, keep: str | None = None) -> int:
        """Evict least-recently-used unpinned blobs until ``extra`` more bytes fit; returns
        how many were evicted."""
        evicted = 0
        async with self.lock:
            async with self.sessionmaker() as session, session.begin():
                total = await repo.total_size(session)
            while self._over(total, extra):
                async with self.sessionmaker() as session, session.begin():
                    candidates = [
                        c for c in await repo.eviction_candidates(session) if c.sha3_384 != keep
                    ]
                    if not candidates:
                        log.warning("cache.cannot_make_room", needed=extra, total=total)
                        return evicted
                    victim = candidates[0]
                    if await repo.delete_entry(session, victim.sha3_384):
                        await repo.bump(session, victim.name, evictions=1)
                        total -= victim.size
                        evicted += 1
                await asyncio.to_thread(self.store.delete, victim.sha3_384)
                log.info("cache.evicted", snap=victim.name, revision=victim.revision)
        return evicted
