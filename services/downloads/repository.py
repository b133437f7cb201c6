"""SQL for cache entries, fill leases and counters; never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import CacheCounter, CacheEntry, CacheFill, utcnow

COUNTER_FIELDS = (
    "hits",
    "misses",
    "bytes_from_cache",
    "bytes_from_upstream",
    "failed_fills",
    "evictions",
)


def _insert(session: AsyncSession, model: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


# -- entries -----------------------------------------------------------------------------------


async def get_entry(session: AsyncSession, sha3_384: str) -> CacheEntry | None:
    return await session.get(CacheEntry, sha3_384)


async def add_entry(session: AsyncSession, entry: CacheEntry) -> None:
    statement = _insert(session, CacheEntry).values(
        sha3_384=entry.sha3_384,
        snap_id=entry.snap_id,
        name=entry.name,
        revision=entry.revision,
        size=entry.size,
        stored_at=utcnow(),
        last_access=utcnow(),
        pinned=False,
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=["sha3_384"]))


async def touch_entry(session: AsyncSession, sha3_384: str) -> None:
    await session.execute(
        update(CacheEntry).where(CacheEntry.sha3_384 == sha3_384).values(last_access=utcnow())
    )


async def delete_entry(session: AsyncSession, sha3_384: str) -> bool:
    result = await session.execute(delete(CacheEntry).where(CacheEntry.sha3_384 == sha3_384))
    return bool(getattr(result, "rowcount", 0))


async def list_entries(session: AsyncSession, name: str | None = None) -> list[CacheEntry]:
    query = select(CacheEntry).order_by(CacheEntry.name, CacheEntry.revision)
    if name is not None:
        query = query.where(CacheEntry.name == name)
    return list((await session.execute(query)).scalars())


async def total_size(session: AsyncSession) -> int:
    total = await session.scalar(select(func.coalesce(func.sum(CacheEntry.size), 0)))
    return int(total or 0)


async def eviction_candidates(session: AsyncSession, limit: int = 50) -> list[CacheEntry]:
    query = (
        select(CacheEntry)
        .where(CacheEntry.pinned.is_(False))
        .order_by(CacheEntry.last_access, CacheEntry.stored_at)
        .limit(limit)
    )
    return list((await session.execute(query)).scalars())


async def set_pinned(session: AsyncSession, name: str, pinned: bool) -> int:
    result = await session.execute(
        update(CacheEntry).where(CacheEntry.name == name).values(pinned=pinned)
    )
    return int(getattr(result, "rowcount", 0))


# -- fill leases -------------------------------------------------------------------------------


async def try_claim_fill(session: AsyncSession, fill: CacheFill) -> bool:
    """Insert the lease; False when someone else holds one (checked by the caller)."""
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


async def steal_stale_fill(
    session: AsyncSession, sha3_384: str, old_owner: str, stale_before: datetime, new: CacheFill
) -> bool:
    """Take over a lease whose owner stopped beating; True when this caller won."""
    result = await session.execute(
        update(CacheFill)
        .where(
            CacheFill.sha3_384 == sha3_384,
            CacheFill.owner == old_owner,
            CacheFill.heartbeat_at < stale_before,
        )
        .values(
            owner=new.owner,
            partial_name=new.partial_name,
            size=new.size,
            heartbeat_at=utcnow(),
            started_at=utcnow(),
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def beat(session: AsyncSession, sha3_384: str, owner: str) -> bool:
    result = await session.execute(
        update(CacheFill)
        .where(CacheFill.sha3_384 == sha3_384, CacheFill.owner == owner)
        .values(heartbeat_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))


async def release_fill(session: AsyncSession, sha3_384: str, owner: str) -> None:
    await session.execute(
        delete(CacheFill).where(CacheFill.sha3_384 == sha3_384, CacheFill.owner == owner)
    )


async def all_fills(session: AsyncSession) -> list[CacheFill]:
    return list((await session.execute(select(CacheFill))).scalars())


# -- counters ----------------------------------------------------------------------------------


async def bump(session: AsyncSession, name: str, **increments: int) -> None:
    values = {field: increments.get(field, 0) for field in COUNTER_FIELDS}
    statement = _insert(session, CacheCounter).values(name=name[:64], **values)
    update_values = {
        field: getattr(CacheCounter, field) + statement.excluded[field] for field in increments
    }
    await session.execute(
        statement.on_conflict_do_update(index_elements=["name"], set_=update_values)
    )


async def counters(session: AsyncSession) -> list[CacheCounter]:
    return list((await session.execute(select(CacheCounter).order_by(CacheCounter.name))).scalars())
