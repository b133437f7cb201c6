"""The ledger's transactions lock a cache entry before its counter row (``Ledger._run``).

An admin's eviction (delete the entry, then count the eviction) and the counter flush (which
bumped the counters, then touched the entries) took the same two rows in the other order. With
devices downloading a snap while an admin evicted it in a loop, PostgreSQL found a deadlock
about once a second and aborted one side; three in a row made the eviction answer 500 (CI,
``tests/cache/test_evict_under_load.py[split]``).

Each test holds the entry's row lock in a transaction of its own, starts one ledger
transaction, waits until PostgreSQL shows it waiting for a lock, and then checks that the
counter row is still free: the ledger transaction asked for the entry first. Real
PostgreSQL, migrated; no timing decides the outcome.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import asyncpg
import pytest

from services.downloads.ledger import Entry, Ledger
from shared.db import create_engine, create_sessionmaker
from shared.models import CacheEntry, utcnow
from shared.settings import Settings

NAME = "lock-order"
ENTRIES = "snapdownloads.cache_entries"
COUNTERS = "snapdownloads.cache_counters"


@pytest.fixture
async def ledger(pg_url: str) -> AsyncIterator[Ledger]:
    settings = Settings(database_url=pg_url)
    engine = create_engine(settings)
    yield Ledger(engine, create_sessionmaker(engine), lease_timeout=30)
    await engine.dispose()


async def stored_entry(ledger: Ledger, pg_url: str, sha3_384: str) -> Entry:
    """An entry of ``NAME`` with its counter row (a committed fill records both)."""
    connection = await asyncpg.connect(pg_url)
    try:
        await connection.execute(f"DELETE FROM {ENTRIES} WHERE name = $1", NAME)
    finally:
        await connection.close()
    await ledger.flush({NAME: {"hits": 0}}, {})
    async with ledger.sessionmaker() as session, session.begin():
        session.add(
            CacheEntry(sha3_384=sha3_384, snap_id="lockorder", name=NAME, revision=1, size=10)
        )
    [stored] = [e for e in await ledger.entries(NAME) if e.sha3_384 == sha3_384]
    return stored


async def waiting_backends(connection: asyncpg.Connection) -> int:
    """Backends of this database waiting for a row or transaction lock."""
    return int(
        await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
    )


async def counter_row_is_free(connection: asyncpg.Connection) -> bool:
    async with connection.transaction():
        try:
            await connection.execute(
                f"SELECT 1 FROM {COUNTERS} WHERE name = $1 FOR UPDATE NOWAIT", NAME
            )
        except asyncpg.LockNotAvailableError:
            return False
    return True


LedgerWork = Callable[[Ledger, Entry], Awaitable[object]]


def flush_touching(ledger: Ledger, entry: Entry) -> Awaitable[object]:
    return ledger.flush({NAME: {"hits": 1}}, {entry.sha3_384: utcnow() + timedelta(seconds=1)})


def forget(ledger: Ledger, entry: Entry) -> Awaitable[object]:
    return ledger.forget(entry)


@pytest.mark.parametrize("work", [flush_touching, forget], ids=["counter-flush", "eviction"])
async def test_the_entry_is_locked_before_the_counter_row(
    ledger: Ledger, pg_url: str, work: LedgerWork
) -> None:
    entry = await stored_entry(ledger, pg_url, hashlib.sha3_384(work.__name__.encode()).hexdigest())
    holder = await asyncpg.connect(pg_url)
    probe = await asyncpg.connect(pg_url)
    try:
        holding = holder.transaction()
        await holding.start()
        await holder.execute(
            f"UPDATE {ENTRIES} SET size = size WHERE sha3_384 = $1", entry.sha3_384
        )
        task = asyncio.ensure_future(work(ledger, entry))
        for _ in range(200):
            if await waiting_backends(probe) or task.done():
                break
            await asyncio.sleep(0.05)
        assert not task.done(), "the ledger's transaction did not wait for the entry's lock"
        assert await waiting_backends(probe) == 1
        free = await counter_row_is_free(probe)
        await holding.rollback()
        await asyncio.wait_for(task, 30)
        assert free, "the ledger's transaction locked the counter row before the entry"
    finally:
        await holder.close()
        await probe.close()
