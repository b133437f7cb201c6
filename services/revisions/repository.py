"""SQL for snap revisions and channel positions; never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for
from shared.models import SnapChannel, SnapRevision, utcnow
from shared.revisions_api import ChannelIn, RevisionIn


async def upsert_revisions(session: AsyncSession, revisions: Sequence[RevisionIn]) -> None:
    now = utcnow()
    for item in revisions:
        values = {
            "snap_id": item.snap_id,
            "name": item.name,
            "revision": item.revision,
            "architectures": ",".join(item.architectures),
            "sha3_384": item.sha3_384.lower(),
            "size": item.size,
            "upstream_url": item.upstream_url,
            "snap_json": json.dumps(item.snap, separators=(",", ":")),
            "first_seen": now,
            "last_seen": now,
        }
        statement = insert_for(session, SnapRevision).values(**values)
        update = {k: statement.excluded[k] for k in ("name", "upstream_url", "last_seen")}
        if item.snap:
            update["snap_json"] = statement.excluded.snap_json
        if item.architectures:
            update["architectures"] = statement.excluded.architectures
        await session.execute(
            statement.on_conflict_do_update(index_elements=["snap_id", "revision"], set_=update)
        )


async def upsert_channels(session: AsyncSession, channels: Sequence[ChannelIn]) -> None:
    now = utcnow()
    for item in channels:
        statement = insert_for(session, SnapChannel).values(
            snap_id=item.snap_id,
            name=item.name,
            architecture=item.architecture,
            channel=item.channel,
            revision=item.revision,
            updated_at=now,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["snap_id", "architecture", "channel"],
                set_={"revision": item.revision, "name": item.name, "updated_at": now},
            )
        )


async def get_revision(session: AsyncSession, snap_id: str, revision: int) -> SnapRevision | None:
    result = await session.execute(
        select(SnapRevision).where(
            SnapRevision.snap_id == snap_id, SnapRevision.revision == revision
        )
    )
    return result.scalar_one_or_none()


async def find_channel(
    session: AsyncSession,
    *,
    architecture: str,
    channel: str,
    snap_id: str | None,
    name: str | None,
) -> SnapChannel | None:
    query = select(SnapChannel).where(
        SnapChannel.architecture == architecture, SnapChannel.channel == channel
    )
    if snap_id:
        query = query.where(SnapChannel.snap_id == snap_id)
    elif name:
        query = query.where(SnapChannel.name == name)
    else:
        return None
    result = await session.execute(query.order_by(SnapChannel.updated_at.desc()).limit(1))
    return result.scalar_one_or_none()


async def find_revision_by_name(
    session: AsyncSession, name: str, revision: int
) -> SnapRevision | None:
    result = await session.execute(
        select(SnapRevision).where(SnapRevision.name == name, SnapRevision.revision == revision)
    )
    return result.scalar_one_or_none()
