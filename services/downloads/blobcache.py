"""The blob cache: one upstream fetch per blob, however many devices and replicas ask.

A fill is owned through a lease row (``cache_fills``) in the shared database; the owner writes
a partial file and beats a heartbeat; everyone (the owner's own requests included) streams from
that growing file. A fill task is never tied to a request, so a client that goes away does not
abort it; a lease whose owner stops beating is taken over by the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.downloads import repository as repo
from services.downloads.eviction import Evictor
from services.downloads.fetch import FillError, open_upstream_blob, stream_to_file
from services.downloads.follow import follow_partial
from services.downloads.storage import BlobStore
from shared.models import CacheEntry, CacheFill, utcnow
from shared.revisions_api import RevisionOut
from shared.settings import Settings

log = structlog.get_logger(__name__)
HEARTBEAT_EVERY = 1.0


@dataclass
class LocalFill:
    """A fill this process owns; followers in the process wait on ``changed``."""

    sha3_384: str
    partial: Path
    size: int
    written: int = 0
    done: bool = False
    failed: str | None = None
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()


@dataclass(frozen=True)
class Hit:
    entry: CacheEntry


@dataclass(frozen=True)
class Filling:
    partial: Path
    owner: str
    local: LocalFill | None


class BlobCache:
    def __init__(
        self,
        settings: Settings,
        store: BlobStore,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> None:
        self.settings = settings
        self.store = store
        self.sessionmaker = sessionmaker
        self.owner = uuid.uuid4().hex
        self.fills: dict[str, LocalFill] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.evictor = Evictor(settings, store, sessionmaker)
        self.lease_timeout = timedelta(seconds=settings.fill_lease_timeout)
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, read=settings.blob_read_timeout), follow_redirects=False
        )
        self.upstream_host = (urlsplit(settings.upstream_url).hostname or "").lower()

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()

    async def sweep_orphans(self) -> int:
        """Delete partial files no live fill owns (left by a process that died)."""
        async with self.sessionmaker() as session, session.begin():
            live = {fill.partial_name for fill in await repo.all_fills(session)}
        cutoff = time.time() - self.settings.fill_lease_timeout
        removed = 0
        for partial in self.store.partials_older_than(cutoff):
            if partial.name not in live:
                partial.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("cache.orphans_removed", count=removed)
        return removed

    async def check_storage(self) -> None:
        """Health: the cache folder is writable and the disk is not past its reserve."""
        self.store.check_writable()
        free, reserve = self.store.free_bytes(), self.settings.cache_min_free_bytes
        if free < reserve // 2:
            raise RuntimeError(f"only {free} bytes free below the cache (reserve {reserve})")

    async def committed(self, sha3_384: str) -> CacheEntry | None:
        async with self.sessionmaker() as session, session.begin():
            entry = await repo.get_entry(session, sha3_384)
            if entry is not None and not self.store.exists(sha3_384):
                await repo.delete_entry(session, sha3_384)  # the file went away: forget it
                return None
            return entry

    async def locate(self, revision: RevisionOut, start_fill: bool = True) -> Hit | Filling | None:
        """A committed blob, or a fill to follow (started here when nobody is filling)."""
        sha3 = revision.sha3_384
        for _ in range(20):
            if (entry := await self.committed(sha3)) is not None:
                return Hit(entry)
            if (local := self.fills.get(sha3)) is not None:
                return Filling(local.partial, self.owner, local)
            if not start_fill:
                return None
            partial = self.store.new_partial(sha3)
            lease = CacheFill(
                sha3_384=sha3, owner=self.owner, partial_name=partial.name, size=revision.size
            )
            async with self.sessionmaker() as session, session.begin():
                claimed = await repo.try_claim_fill(session, lease)
                current = None if claimed else await repo.get_fill(session, sha3)
                stale_before = utcnow() - self.lease_timeout
                if current is not None and current.heartbeat_at < stale_before:
                    # Read before stealing: the UPDATE refreshes ``current`` in the session.
                    dead_owner, dead_partial = current.owner, current.partial_name
                    claimed = await repo.steal_stale_fill(
                        session, sha3, dead_owner, stale_before, lease
                    )
                    if claimed:
                        log.warning("cache.fill_taken_over", sha3=sha3[:16], dead=dead_owner)
                        with contextlib.suppress(ValueError, OSError):
                            self.store.partial_path(dead_partial).unlink(missing_ok=True)
            if claimed:
                return Filling(partial, self.owner, self._start_fill(revision, partial))
            if current is not None:
                return Filling(self.store.partial_path(current.partial_name), current.owner, None)
            await asyncio.sleep(0.05)  # released between our two looks: look again
        raise FillError("could not settle who fills this blob")

    def _start_fill(self, revision: RevisionOut, partial: Path) -> LocalFill:
        local = LocalFill(revision.sha3_384, partial, revision.size)
        self.fills[revision.sha3_384] = local
        task = asyncio.create_task(self._fill(revision, local))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return local

    async def _heartbeat(self, sha3: str, fill: asyncio.Task[None]) -> None:
        """Keep the lease alive while the fill runs, progress or not (a slow upstream must
        not let another process take over a live fill); cancel the fill if it is lost."""
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY)
            try:
                async with self.sessionmaker() as session, session.begin():
                    alive = await repo.beat(session, sha3, self.owner)
            except Exception as exc:  # database away: the lease may lapse; keep trying
                log.warning("cache.heartbeat_failed", error=str(exc) or type(exc).__name__)
                continue
            if not alive:
                log.warning("cache.fill_lease_lost", sha3=sha3[:16])
                fill.cancel()
                return

    @contextlib.asynccontextmanager
    async def _lease_kept(self, sha3: str) -> AsyncIterator[None]:
        """Beat the lease while the body is fetched; stop before the commit releases it (a
        beat after the release would find no lease and cancel a fill that succeeded)."""
        fill = asyncio.current_task()
        assert fill is not None
        heartbeat = asyncio.create_task(self._heartbeat(sha3, fill))
        try:
            yield
        finally:
            heartbeat.cancel()

    async def _fill(self, revision: RevisionOut, local: LocalFill) -> None:
        sha3, name = revision.sha3_384, revision.name

        async def progress(written: int) -> None:
            local.written = written
            await local.notify()

        allowed = {self.upstream_host, (urlsplit(revision.upstream_url).hostname or "").lower()}
        try:
            await self.evictor.make_room(revision.size, keep=sha3)
            async with self._lease_kept(sha3):
                response = await open_upstream_blob(
                    self.client,
                    revision.upstream_url,
                    allowed_hosts=allowed,
                    cdn_patterns=self.settings.cdn_host_patterns,
                    headers={"User-Agent": "snapproxy"},
                )
                try:
                    await stream_to_file(
                        response,
                        local.partial,
                        size=revision.size,
                        sha3_384=sha3,
                        on_progress=progress,
                    )
                finally:
                    await response.aclose()
            await asyncio.to_thread(self.store.commit, local.partial, sha3)
            async with self.sessionmaker() as session, session.begin():
                await repo.add_entry(
                    session,
                    CacheEntry(
                        sha3_384=sha3,
                        snap_id=revision.snap_id,
                        name=name,
                        revision=revision.revision,
                        size=revision.size,
                    ),
                )
                await repo.bump(session, name, bytes_from_upstream=revision.size)
                await repo.release_fill(session, sha3, self.owner)
            local.done = True
            log.info("cache.filled", snap=name, revision=revision.revision, size=revision.size)
            await self.evictor.make_room(0, keep=sha3)
        except BaseException as exc:
            local.failed = str(exc) or type(exc).__name__
            log.warning(
                "cache.fill_failed", snap=name, revision=revision.revision, error=local.failed
            )
            local.partial.unlink(missing_ok=True)
            with contextlib.suppress(Exception):
                async with self.sessionmaker() as session, session.begin():
                    await repo.release_fill(session, sha3, self.owner)
                    await repo.bump(session, name, failed_fills=1)
            if not isinstance(exc, Exception):
                raise
        finally:
            self.fills.pop(sha3, None)
            await local.notify()

    async def first_chunk(
        self, filling: Filling, sha3_384: str, start: int, end: int
    ) -> tuple[bytes, AsyncIterator[bytes]]:
        """Wait for the first bytes (so a fill that fails at once gives a clean error)."""
        stream = follow_partial(self, filling, sha3_384, start, end).__aiter__()
        try:
            first = await stream.__anext__()
        except StopAsyncIteration:
            first = b""
        return first, stream
