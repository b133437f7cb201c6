"""SQL for the overrides and their audit log; never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.models import OverrideChange, RevisionOverride, SnapChannel, utcnow


async def overrides_of(session: AsyncSession, snap_name: str) -> list[RevisionOverride]:
    result = await session.execute(
        select(RevisionOverride)
        .where(RevisionOverride.snap_name == snap_name)
        .order_by(RevisionOverride.channel, RevisionOverride.architecture)
    )
    return list(result.scalars())


async def all_overrides(session: AsyncSession, limit: int) -> list[RevisionOverride]:
    result = await session.execute(
        select(RevisionOverride).order_by(RevisionOverride.id).limit(limit)
    )
    return list(result.scalars())


async def count_overrides(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(RevisionOverride)) or 0)


async def find_override(
    session: AsyncSession, snap_id: str, channel: str, architecture: str, series: str
) -> RevisionOverride | None:
    result = await session.execute(
        select(RevisionOverride).where(
            RevisionOverride.snap_id == snap_id,
            RevisionOverride.channel == channel,
            RevisionOverride.architecture == architecture,
            RevisionOverride.series == series,
        )
    )
    return result.scalar_one_or_none()


async def put_override(
    session: AsyncSession,
    *,
    snap_id: str,
    snap_name: str,
    channel: str,
    architecture: str,
    series: str,
    revision: int,
    snap: dict[str, Any],
    frozen: bool,
    actor: str,
) -> int | None:
    """Insert or replace the pin; the revision it replaced (None: there was none)."""
    row = await find_override(session, snap_id, channel, architecture, series)
    old = row.revision if row is not None else None
    if row is None:
        row = RevisionOverride(
            snap_id=snap_id, channel=channel, architecture=architecture, series=series
        )
        session.add(row)
    row.snap_name = snap_name
    row.revision = revision
    row.snap_json = json.dumps(snap, separators=(",", ":"))
    row.frozen = frozen
    row.updated_at = utcnow()
    row.updated_by = actor
    await session.flush()
    return old


async def drop_overrides(session: AsyncSession, rows: Sequence[RevisionOverride]) -> None:
    ids = [row.id for row in rows]
    if ids:
        await session.execute(delete(RevisionOverride).where(RevisionOverride.id.in_(ids)))


async def seen_channels(session: AsyncSession, names: Sequence[str]) -> list[SnapChannel]:
    """Every channel position recorded from upstream answers (of ``names``, if any)."""
    query = select(SnapChannel).order_by(SnapChannel.name, SnapChannel.channel)
    if names:
        query = query.where(SnapChannel.name.in_(list(names)))
    return list((await session.execute(query)).scalars())


async def seen_channel(
    session: AsyncSession, snap_id: str, channel: str, architecture: str
) -> SnapChannel | None:
    result = await session.execute(
        select(SnapChannel).where(
            SnapChannel.snap_id == snap_id,
            SnapChannel.channel == channel,
            SnapChannel.architecture == architecture,
        )
    )
    return result.scalar_one_or_none()


async def add_change(session: AsyncSession, change: OverrideChange) -> None:
    change.changed_at = utcnow()
    session.add(change)
    await session.flush()


async def changes(session: AsyncSession, snap_name: str | None, limit: int) -> list[OverrideChange]:
    query = select(OverrideChange).order_by(OverrideChange.id.desc()).limit(limit)
    if snap_name:
        query = query.where(OverrideChange.snap_name == snap_name)
    return list((await session.execute(query)).scalars())
