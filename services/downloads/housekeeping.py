"""What an admin does to the cache (stats, listing, eviction, pinning, verification) and the
cache's own upkeep (orphan partial files, the storage health check).

:class:`Housekeeping` is the admin half of the cache façade (``BlobCache`` extends it): the
admin API and the CLI (through it) use these methods, never the ledger or the files directly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

import structlog

from services.downloads import metrics
from services.downloads.counters import HitCounters
from services.downloads.eviction import Evictor
from services.downloads.ledger import Entry, Ledger
from services.downloads.relocation import copy_blob, destination_store
from services.downloads.repository import COUNTER_FIELDS, DAY_FIELDS
from services.downloads.storage import RETIRED_GRACE, BlobStore
from shared.models import utcnow
from shared.settings import Settings

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Dropped:
    entry: Entry
    reason: str


@dataclass(frozen=True)
class Stats:
    totals: dict[str, int | None]
    per_snap: dict[str, dict[str, int]]
    disk: dict[str, int | str]


def bytes_saved(counts: Mapping[str, int | None]) -> int:
    """Bytes sent to clients (hits, streamed from fills, relayed) minus bytes fetched
    upstream: the traffic the cache kept off the internet link (negative while fetched
    blobs, prefetched ones say, have not been asked for yet)."""
    sent = (counts["bytes_from_cache"] or 0) + (counts["bytes_relayed"] or 0)
    return sent - (counts["bytes_from_upstream"] or 0)


@dataclass(frozen=True)
class Day:
    day: date
    counts: dict[str, int]


class Housekeeping:
    def __init__(
        self,
        *,
        store: BlobStore,
        ledger: Ledger,
        evictor: Evictor,
        counters: HitCounters,
        io: Executor,
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.evictor = evictor
        self.counters = counters
        self.io = io
        self.retired_drops: set[asyncio.Task[None]] = set()

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.io, function, *args)

    async def stats(self) -> Stats:
        await self.counters.flush()  # this process's counts, up to now
        summary = await self.ledger.summary()
        per_snap = summary.per_snap
        totals: dict[str, int | None] = {
            f: sum(counts[f] for counts in per_snap.values()) for f in COUNTER_FIELDS
        }
        for counts in per_snap.values():
            counts["bytes_saved"] = bytes_saved(dict(counts))
        totals["bytes_saved"] = bytes_saved(totals)
        # Summed in SQL: the stats read no entry (the dashboard's cache page asks often).
        totals["entries"] = summary.entries
        totals["size"] = summary.size
        totals["max_size"] = self.evictor.max_size
        return Stats(totals, per_snap, await self.disk())

    async def disk(self) -> dict[str, int | str]:
        """The volume of the cache's partial files (and local blobs): free and total bytes,
        and the free-space reserve eviction keeps."""
        free, total = await self._in_thread(
            lambda: (self.store.free_bytes(), self.store.volume_bytes())
        )
        return {
            "free": free,
            "total": total,
            "reserve": self.evictor.reserve,
            "backend": self.store.kind,
        }

    async def daily(self, days: int) -> list[Day]:
        """The last ``days`` UTC days' traffic, oldest first, one row per day (zeros for a
        day without any)."""
        await self.counters.flush()  # this process's counts, up to now
        today = utcnow().date()
        first = today - timedelta(days=days - 1)
        found = {row.day: row for row in await self.ledger.days_since(first)}
        result = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            row = found.get(day)
            counts = {f: int(getattr(row, f)) if row is not None else 0 for f in DAY_FIELDS}
            result.append(Day(day, counts))
        return result

    async def entries(self, name: str | None = None) -> list[Entry]:
        return await self.ledger.entries(name)

    async def pinned_names(self) -> list[str]:
        return await self.ledger.pinned_names()

    async def evict(self, name: str | None) -> list[Entry]:
        """Drop a snap's blobs (``name``), or every blob (None). A blob is a miss at once;
        its file goes ``RETIRED_GRACE`` seconds later (downloads under way finish)."""
        evicted, retired = [], []
        for entry in await self.ledger.entries(name):
            if await self.ledger.forget(entry):
                evicted.append(entry)
                metrics.evicted("admin", entry.size)
            await self._in_thread(self.store.retire, entry.sha3_384)
            retired.append(entry.sha3_384)
        if retired:
            task = asyncio.create_task(self._drop_retired_later(retired))
            self.retired_drops.add(task)
            task.add_done_callback(self.retired_drops.discard)
        return evicted

    async def _drop_retired_later(self, sha3s: list[str]) -> None:
        await asyncio.sleep(RETIRED_GRACE + 1)
        try:
            await self._in_thread(self.store.drop_retired, time.time() - RETIRED_GRACE, sha3s)
        except OSError as exc:  # left for the next sweep (at start)
            log.warning("cache.retired_drop_failed", error=str(exc))

    def cancel_retired_drops(self) -> None:
        """On shutdown: what is left is dropped by the next start's sweep."""
        for task in self.retired_drops:
            task.cancel()

    async def pin(self, name: str, pinned: bool) -> int:
        return await self.ledger.set_pinned(name, pinned)

    async def verify(self) -> tuple[int, list[Dropped]]:
        """Re-hash every stored blob; drop the corrupt and missing ones."""
        verified, dropped = 0, []
        for entry in await self.ledger.entries():
            digest = await self._in_thread(self.store.digest, entry.sha3_384)
            if digest == entry.sha3_384:
                verified += 1
                continue
            if await self.ledger.forget(entry):
                metrics.evicted("verify", entry.size)
            await self._in_thread(self.store.delete, entry.sha3_384)
            dropped.append(Dropped(entry, "missing" if digest is None else "corrupt"))
            log.warning("cache.verify_dropped", snap=entry.name, reason=dropped[-1].reason)
        return verified, dropped

    async def destination(self, backend: str, settings: Settings) -> BlobStore:
        """The other backend's store, checked writable, for :meth:`move_to`."""
        store = destination_store(settings, backend, self.store)
        await self._in_thread(store.check_writable)
        return store

    async def move_to(self, destination: BlobStore) -> AsyncIterator[tuple[Entry, bool]]:
        """Copy every stored blob into ``destination``, one at a time: each entry, and
        whether it was copied (False: the destination had it already)."""
        for entry in await self.ledger.entries():
            copied = await self._in_thread(
                copy_blob, self.store, destination, entry.sha3_384, entry.size
            )
            if copied:
                log.info("cache.blob_moved", snap=entry.name, to=destination.kind)
            yield entry, copied

    async def sweep_orphans(self) -> int:
        """Delete partial files no live fill owns (left by a process that died), and the
        files of evicted blobs past their grace."""
        live = await self.ledger.fill_partials()
        cutoff = time.time() - self.ledger.lease_timeout.total_seconds()
        removed = 0
        for partial in await self._in_thread(self.store.partials_older_than, cutoff):
            if partial.name not in live:
                await self._in_thread(partial.unlink, True)
                removed += 1
        aborted = await self._in_thread(self.store.sweep_uploads, cutoff)
        retired = await self._in_thread(self.store.drop_retired, time.time() - RETIRED_GRACE)
        if removed or aborted or retired:
            log.info(
                "cache.orphans_removed", partials=removed, uploads=aborted, evicted_files=retired
            )
        return removed + aborted + retired

    async def check_storage(self) -> None:
        """Health: the cache folder is writable and the disk is not nearly full."""
        await self._in_thread(self.store.check_writable)
        free = await self._in_thread(self.store.free_bytes)
        if not self.evictor.healthy_free_space(free):
            raise RuntimeError(
                f"only {free} bytes free below the cache (reserve {self.evictor.reserve})"
            )
