"""SQL for cache entries, fill leases and counters; never commits (the ledger does)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import case, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from shared.db import insert_for
from shared.models import CacheCounter, CacheDay, CacheEntry, CacheFill, utcnow

COUNTER_FIELDS = (
    "hits",
    "misses",
    "bytes_from_cache",
    "bytes_from_upstream",
    "failed_fills",
    "evictions",
    "bytes_relayed",
)
# The counters the cache also keeps per day (``cache_days``).
DAY_FIELDS = ("hits", "misses", "bytes_from_cache", "bytes_relayed", "bytes_from_upstream")


# -- entries -----------------------------------------------------------------------------------


async def add_entry(session: AsyncSession, entry: CacheEntry) -> None:
    now = utcnow()
    statement = insert_for(session, CacheEntry).values(
        sha3_384=entry.sha3_384,
        snap_id=entry.snap_id,
        name=entry.name,
        revision=entry.revision,
        size=entry.size,
        stored_at=now,
        last_access=now,
        pinned=False,
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["sha3_384"]))


async def touch_entries(session: AsyncSession, accessed: Mapping[str, datetime]) -> None:
    """Set ``last_access`` of many entries in one statement (the batched LRU touch)."""
    if not accessed:
        return
    when = case(
        *((CacheEntry.sha3_384 == sha3, at) for sha3, at in accessed.items()),
        else_=CacheEntry.last_access,
    )
    await session.execute(
        update(CacheEntry)
        .where(CacheEntry.sha3_384.in_(list(accessed)))
        .values(last_access=when)
        .execution_options(synchronize_session=False)
    )


async def delete_entry(session: AsyncSession, sha3_384: str) -> bool:
    result = await session.execute(delete(CacheEntry).where(CacheEntry.sha3_384 == sha3_384))
    return bool(getattr(result, "rowcount", 0))


async def list_entries(session: AsyncSession, name: str | None = None) -> list[CacheEntry]:
    query = select(CacheEntry).order_by(CacheEntry.name, CacheEntry.revision)
    if name is not None:
        query = query.where(CacheEntry.name == name)
    return list((await session.execute(query)).scalars())


async def sizes(session: AsyncSession) -> tuple[int, int]:
    """(total size, size of the unpinned entries) of the cache."""
    unpinned = case((CacheEntry.pinned.is_(False), CacheEntry.size), else_=0)
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(CacheEntry.size), 0),
                func.coalesce(func.sum(unpinned), 0),
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def entry_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(CacheEntry)) or 0)


async def pinned_names(session: AsyncSession) -> list[str]:
    """The snaps with at least one pinned blob, by name."""
    result = await session.execute(
        select(CacheEntry.name)
        .where(CacheEntry.pinned.is_(True))
        .distinct()
        .order_by(CacheEntry.name)
    )
    return list(result.scalars())


async def eviction_candidates(
    session: AsyncSession, keep: str | None, limit: int = 50
) -> list[CacheEntry]:
    query = (
        select(CacheEntry)
        .where(CacheEntry.pinned.is_(False))
        .order_by(CacheEntry.last_access, CacheEntry.stored_at)
        .limit(limit)
    )
    if keep is not None:
        query = query.where(CacheEntry.sha3_384 != keep)
    return list((await session.execute(query)).scalars())


async def set_pinned(session: AsyncSession, name: str, pinned: bool) -> int:
    result = await session.execute(
        update(CacheEntry).where(CacheEntry.name == name).values(pinned=pinned)
    )
    return int(getattr(result, "rowcount", 0))


# -- fill leases -------------------------------------------------------------------------------


async def insert_fill(session: AsyncSession, fill: CacheFill) -> bool:
    """Insert the lease; False when a lease for the blob exists already."""
    try:
        async with session.begin_nested():
            session.add(fill)
            await session.flush()
    except IntegrityError:
        return False
    return True


async def get_fill(session: AsyncSession, sha3_384: str) -> CacheFill | None:
    result = await session.execute(
        select(CacheFill)
        .where(CacheFill.sha3_384 == sha3_384)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def replace_fill(session: AsyncSession, old_owner: str, new: CacheFill) -> bool:
    """Take over a lease from a dead owner; True when this caller won."""
    now = utcnow()
    result = await session.execute(
        update(CacheFill)
        .where(CacheFill.sha3_384 == new.sha3_384, CacheFill.owner == old_owner)
        .values(
            owner=new.owner,
            partial_name=new.partial_name,
            size=new.size,
            node_url=new.node_url,
            heartbeat_at=now,
            started_at=now,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def beat(session: AsyncSession, sha3_384: str, owner: str, at: datetime) -> bool:
    result = await session.execute(
        update(CacheFill)
        .where(CacheFill.sha3_384 == sha3_384, CacheFill.owner == owner)
        .values(heartbeat_at=at)
    )
    return bool(getattr(result, "rowcount", 0))


async def release_fill(session: AsyncSession, sha3_384: str, owner: str) -> None:
    await session.execute(
        delete(CacheFill).where(CacheFill.sha3_384 == sha3_384, CacheFill.owner == owner)
    )


async def all_fills(session: AsyncSession) -> list[CacheFill]:
    return list((await session.execute(select(CacheFill))).scalars())


# -- counters ----------------------------------------------------------------------------------


async def bump(session: AsyncSession, name: str, increments: Mapping[str, int]) -> None:
    values = {field: increments.get(field, 0) for field in COUNTER_FIELDS}
    statement = insert_for(session, CacheCounter).values(name=name[:64], **values)
    update_values = {
        field: getattr(CacheCounter, field) + statement.excluded[field] for field in increments
    }
    await session.execute(
        statement.on_conflict_do_update(index_elements=["name"], set_=update_values)
    )


async def counter_rows(session: AsyncSession) -> dict[str, dict[str, int]]:
    """Every snap's counters (``COUNTER_FIELDS``) by name: plain rows, not ORM objects (the
    dashboard's cache page reads them all, hundreds of snaps, on every load)."""
    columns = [getattr(CacheCounter, field) for field in COUNTER_FIELDS]
    result = await session.execute(select(CacheCounter.name, *columns).order_by(CacheCounter.name))
    return {
        row[0]: {field: int(value) for field, value in zip(COUNTER_FIELDS, row[1:], strict=True)}
        for row in result
    }


async def bump_day(session: AsyncSession, day: date, increments: Mapping[str, int]) -> None:
    """Add to one day's traffic (only the ``DAY_FIELDS`` of ``increments`` count)."""
    kept = {field: increments[field] for field in DAY_FIELDS if increments.get(field)}
    if not kept:
        return
    values = {field: kept.get(field, 0) for field in DAY_FIELDS}
    statement = insert_for(session, CacheDay).values(day=day, **values)
    update_values = {field: getattr(CacheDay, field) + statement.excluded[field] for field in kept}
    await session.execute(
        statement.on_conflict_do_update(index_elements=["day"], set_=update_values)
    )


async def days_since(session: AsyncSession, first: date) -> list[CacheDay]:
    query = select(CacheDay).where(CacheDay.day >= first).order_by(CacheDay.day)
    return list((await session.execute(query)).scalars())


# -- PostgreSQL advisory locks: the fill owner's liveness ------------------------------------------


async def try_lock(connection: AsyncConnection, key: int) -> bool:
    """Take the session-level lock on ``key`` (held until released or the session ends)."""
    return bool(await connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))


async def unlock(connection: AsyncConnection, key: int) -> None:
    await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


async def lock_is_free(session: AsyncSession, key: int) -> bool:
    """True when no session holds ``key`` (a shared attempt succeeds; released at once)."""
    free = bool(await session.scalar(text("SELECT pg_try_advisory_lock_shared(:k)"), {"k": key}))
    if free:
        await session.execute(text("SELECT pg_advisory_unlock_shared(:k)"), {"k": key})
    return free


async def add_pushed_entry(
    session: AsyncSession, *, sha3_384: str, snap_id: str, name: str, revision: int, size: int
) -> bool:
    """An imported blob (``snap-proxy push-snap``): a pinned entry, never evicted; an entry
    the cache already had is pinned. True when something changed."""
    found = await session.get(CacheEntry, sha3_384)
    if found is not None:
        if found.pinned:
            return False
        found.pinned = True
        return True
    now = utcnow()
    session.add(
        CacheEntry(
            sha3_384=sha3_384,
            snap_id=snap_id,
            name=name,
            revision=revision,
            size=size,
            stored_at=now,
            last_access=now,
            pinned=True,
        )
    )
    return True
