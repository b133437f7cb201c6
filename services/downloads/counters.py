"""Hit and miss counters and the LRU touch, batched in memory and written every few seconds.

A hit must not wait on the database: it adds to these counters and moves on. A flush writes
everything gathered in one transaction; when the database is away the counts are kept (and
merged with new ones) for the next flush. A crash loses at most one flush interval of
counters, never data.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import datetime

import structlog

from services.downloads import metrics
from services.downloads.ledger import Ledger
from shared.models import utcnow

log = structlog.get_logger(__name__)
# Past this many distinct snaps or blobs unflushed, the oldest touches are dropped rather
# than growing without bound while the database is away (counts are kept: they are small).
MAX_PENDING_TOUCHES = 100_000


class HitCounters:
    def __init__(self, ledger: Ledger, interval: float) -> None:
        self.ledger = ledger
        self.interval = interval
        self.bumps: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.touches: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def hit(self, name: str, sha3_384: str, sent: int) -> None:
        counts = self.bumps[name]
        counts["hits"] += 1
        counts["bytes_from_cache"] += sent
        metrics.CACHE_HITS.inc()
        metrics.CACHE_HIT_BYTES.inc(sent)
        if len(self.touches) < MAX_PENDING_TOUCHES or sha3_384 in self.touches:
            self.touches[sha3_384] = utcnow()

    def miss(self, name: str) -> None:
        self.bumps[name]["misses"] += 1
        metrics.CACHE_MISSES.inc()

    def add(self, name: str, **increments: int) -> None:
        counts = self.bumps[name]
        for field, value in increments.items():
            counts[field] += value

    async def flush(self) -> None:
        """Write what was gathered; on failure keep it for the next flush."""
        async with self._lock:
            bumps = {name: dict(counts) for name, counts in self.bumps.items()}
            touches = dict(self.touches)
            if not bumps and not touches:
                return
            self.bumps.clear()
            self.touches.clear()
            try:
                await self.ledger.flush(bumps, touches)
            except Exception as exc:
                log.warning("cache.counters_not_written", error=str(exc) or type(exc).__name__)
                for name, counts in bumps.items():
                    for field, value in counts.items():
                        self.bumps[name][field] += value
                for sha3, at in touches.items():
                    self.touches.setdefault(sha3, at)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop the timer and write what is left (shutdown)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
