"""The cache's bookkeeping: entries, fill leases and counters in the shared database.

This is the only part of the download path that opens transactions. A lost database
connection is retried once; after that the caller gets :class:`LedgerUnavailable` (a 503
with Retry-After), never a 500.

Who owns a fill is a lease row (``cache_fills``) plus, on PostgreSQL, a session-level
advisory lock the owner holds on a connection of its own for as long as it fills: when the
owner's process dies, the server drops the lock at once, so others take over at once. The
owner also beats a heartbeat (the only liveness signal on SQLite, where a same-host owner is
also checked by its process id).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import structlog
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from services.downloads import repository as repo
from services.downloads.errors import LedgerUnavailable
from services.downloads.ownership import OwnerLock, describe, lock_key, pid_gone
from shared.models import CacheDay, CacheEntry, CacheFill, utcnow

log = structlog.get_logger(__name__)
T = TypeVar("T")

HEARTBEAT_EVERY = 1.0
# An owner whose advisory lock is free is dead once its heartbeat is this old: a database
# blip that drops the lock's connection must not hand a live fill to someone else.
LOCK_GRACE = timedelta(seconds=2.5)
_RETRY_STATES = ("40P01", "40001")  # deadlock_detected, serialization_failure
_CONNECTION_ERRORS = (OperationalError, InterfaceError, PoolTimeout, OSError, TimeoutError)


@dataclass(frozen=True)
class Summary:
    """What the cache's stats read from the database."""

    per_snap: dict[str, dict[str, int]]  # COUNTER_FIELDS by snap name
    entries: int
    size: int


@dataclass(frozen=True)
class Lease:
    sha3_384: str
    owner: str
    partial_name: str
    size: int
    heartbeat_at: datetime
    node_url: str | None = None  # where other nodes stream the growing blob from


@dataclass(frozen=True)
class Entry:
    sha3_384: str
    snap_id: str
    name: str
    revision: int
    size: int
    stored_at: datetime
    last_access: datetime
    pinned: bool


def _lease(row: CacheFill) -> Lease:
    return Lease(
        row.sha3_384, row.owner, row.partial_name, row.size, row.heartbeat_at, row.node_url
    )


def _entry(row: CacheEntry) -> Entry:
    return Entry(
        row.sha3_384,
        row.snap_id,
        row.name,
        row.revision,
        row.size,
        row.stored_at,
        row.last_access,
        row.pinned,
    )


@dataclass(frozen=True)
class Claim:
    """The outcome of trying to own a fill: ``lock`` when this process won; otherwise the
    live owner's ``lease`` (None when the lease went away meanwhile: look again). A win over
    a dead owner names the partial file it left (``orphan``), for the winner to delete."""

    lock: OwnerLock | None
    lease: Lease | None
    orphan: str | None = None


class Ledger:
    def __init__(
        self,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        lease_timeout: float,
    ) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker
        self.postgres = engine.dialect.name == "postgresql"
        self.lease_timeout = timedelta(seconds=lease_timeout)

    async def _run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """One transaction. A lost connection is retried once, then LedgerUnavailable; a
        transaction PostgreSQL chose as a deadlock's or a serialisation failure's victim is
        run again, twice at most.

        Every transaction that writes both takes its row locks in one order: cache entries,
        then counter rows (by name), then the day's row. An eviction once deleted the entry
        first while the counter flush bumped the counter first: two such transactions on one
        snap deadlocked, up to once a second under an eviction loop."""
        lost, victims = 0, 0
        while True:
            try:
                async with self.sessionmaker() as session, session.begin():
                    return await work(session)
            except _CONNECTION_ERRORS as exc:
                failure: BaseException = exc
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) in _RETRY_STATES and victims < 2:
                    victims += 1
                    log.info("cache.transaction_retried", attempt=victims, error=describe(exc))
                    continue
                if not exc.connection_invalidated:
                    raise
                failure = exc
            lost += 1
            log.warning("cache.database_error", attempt=lost, error=describe(failure))
            if lost == 2:
                raise LedgerUnavailable("the proxy's database is not answering; try again shortly")

    # -- leases -----------------------------------------------------------------------------

    async def claim(self, new: CacheFill) -> Claim:
        """Own the fill of ``new.sha3_384``, or learn who does."""
        lock: OwnerLock | None = None
        if self.postgres:
            lock = await self._try_owner_lock(new.sha3_384)
            if lock is None:  # a live owner holds it
                return Claim(None, await self.lease(new.sha3_384))

        replaced: list[str] = []

        async def take(session: AsyncSession) -> Lease | None:
            if await repo.insert_fill(session, new):
                return None
            current = await repo.get_fill(session, new.sha3_384)
            if current is None:
                return None  # released between the two statements: the caller looks again
            found = _lease(current)
            if lock is None and not self._dead(found):
                return found
            if lock is not None and self._beating(found):
                return found  # it lost its lock's connection (a database blip), not its life
            if await repo.replace_fill(session, found.owner, new):
                log.warning("cache.fill_taken_over", sha3=new.sha3_384[:16], dead=found.owner)
                replaced[:] = [found.partial_name]
                return None
            return _lease(current)

        try:
            current = await self._run(take)
        except BaseException:
            if lock is not None:
                await lock.release()
            raise
        if current is not None:
            if lock is not None:
                await lock.release()
            return Claim(None, current)
        return Claim(lock or OwnerLock(None, 0), None, replaced[0] if replaced else None)

    async def _try_owner_lock(self, sha3_384: str) -> OwnerLock | None:
        key = lock_key(sha3_384)
        for attempt in (1, 2):
            connection: AsyncConnection | None = None
            try:
                connection = await self.engine.connect()
                if not await repo.try_lock(connection, key):
                    await connection.close()
                    return None
                await connection.commit()  # the lock is the session's, not the transaction's
                return OwnerLock(connection, key)
            except (*_CONNECTION_ERRORS, DBAPIError) as exc:
                if connection is not None:
                    await connection.close()
                log.warning("cache.database_error", attempt=attempt, error=describe(exc))
        raise LedgerUnavailable("the proxy's database is not answering; try again shortly")

    async def lease(self, sha3_384: str) -> Lease | None:
        async def read(session: AsyncSession) -> Lease | None:
            row = await repo.get_fill(session, sha3_384)
            return _lease(row) if row is not None else None

        return await self._run(read)

    def _dead(self, lease: Lease) -> bool:
        """Liveness from the row alone: a stale heartbeat, or a same-host pid that is gone."""
        return lease.heartbeat_at < utcnow() - self.lease_timeout or pid_gone(lease.owner)

    @staticmethod
    def _beating(lease: Lease) -> bool:
        return lease.heartbeat_at > utcnow() - LOCK_GRACE and not pid_gone(lease.owner)

    async def owner_dead(self, lease: Lease) -> bool:
        """Whether the lease's owner is gone (so its fill must be taken over)."""
        if self._dead(lease):
            return True
        if not self.postgres or self._beating(lease):
            return False
        key = lock_key(lease.sha3_384)
        return await self._run(lambda session: repo.lock_is_free(session, key))

    async def beat(self, sha3_384: str, owner: str) -> bool:
        return await self._run(lambda session: repo.beat(session, sha3_384, owner, utcnow()))

    async def abandon(self, sha3_384: str, owner: str) -> None:
        """Leave the lease for the next process to take over at once (shutdown)."""
        long_ago = datetime(2000, 1, 1, tzinfo=UTC)
        await self._run(lambda session: repo.beat(session, sha3_384, owner, long_ago))

    async def release(self, sha3_384: str, owner: str) -> None:
        await self._run(lambda session: repo.release_fill(session, sha3_384, owner))

    async def commit(self, entry: CacheEntry, owner: str) -> None:
        """Record a verified blob, count the bytes fetched, and release the lease."""

        async def record(session: AsyncSession) -> None:
            await repo.add_entry(session, entry)
            await repo.bump(session, entry.name, {"bytes_from_upstream": entry.size})
            await repo.bump_day(session, utcnow().date(), {"bytes_from_upstream": entry.size})
            await repo.release_fill(session, entry.sha3_384, owner)

        await self._run(record)

    async def fail(self, sha3_384: str, owner: str, name: str) -> None:
        async def record(session: AsyncSession) -> None:
            await repo.release_fill(session, sha3_384, owner)
            await repo.bump(session, name, {"failed_fills": 1})

        await self._run(record)

    async def fill_partials(self) -> set[str]:
        async def read(session: AsyncSession) -> set[str]:
            return {fill.partial_name for fill in await repo.all_fills(session)}

        return await self._run(read)

    # -- entries and counters ---------------------------------------------------------------

    async def entries(self, name: str | None = None) -> list[Entry]:
        async def read(session: AsyncSession) -> list[Entry]:
            return [_entry(row) for row in await repo.list_entries(session, name)]

        return await self._run(read)

    async def sizes(self) -> tuple[int, int]:
        """(total, unpinned) bytes the cache holds."""
        return await self._run(repo.sizes)

    async def pinned_names(self) -> list[str]:
        return await self._run(repo.pinned_names)

    async def eviction_candidates(self, keep: str | None) -> list[Entry]:
        async def read(session: AsyncSession) -> list[Entry]:
            return [_entry(row) for row in await repo.eviction_candidates(session, keep)]

        return await self._run(read)

    async def forget(self, entry: Entry) -> bool:
        """Drop an entry (counted as an eviction); False when it was gone already."""

        async def drop(session: AsyncSession) -> bool:
            if not await repo.delete_entry(session, entry.sha3_384):
                return False
            await repo.bump(session, entry.name, {"evictions": 1})
            return True

        return await self._run(drop)

    async def set_pinned(self, name: str, pinned: bool) -> int:
        return await self._run(lambda session: repo.set_pinned(session, name, pinned))

    async def summary(self) -> Summary:
        """Every snap's counters, the entries' count and total size, in one transaction."""

        async def read(session: AsyncSession) -> Summary:
            per_snap = await repo.counter_rows(session)
            return Summary(
                per_snap, await repo.entry_count(session), (await repo.sizes(session))[0]
            )

        return await self._run(read)

    async def days_since(self, first: date) -> list[CacheDay]:
        return await self._run(lambda session: repo.days_since(session, first))

    async def fills(self) -> list[CacheFill]:
        """Every fill lease (live or not yet taken over)."""
        return await self._run(repo.all_fills)

    async def count(self, name: str, increments: Mapping[str, int]) -> None:
        await self._run(lambda session: repo.bump(session, name, increments))

    async def flush(
        self, bumps: Mapping[str, Mapping[str, int]], touches: Mapping[str, datetime]
    ) -> None:
        """Batched counters and LRU touches, in one transaction."""

        day: dict[str, int] = {}
        for counts in bumps.values():
            for field, value in counts.items():
                day[field] = day.get(field, 0) + value

        async def write(session: AsyncSession) -> None:
            # Entries first, then counter rows, then the day: the order every transaction
            # here takes its row locks in (see ``_run``).
            await repo.touch_entries(session, touches)
            for name in sorted(bumps):
                await repo.bump(session, name, bumps[name])
            await repo.bump_day(session, utcnow().date(), day)

        await self._run(write)
