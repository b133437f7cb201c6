"""SQL for snap revisions and channel positions; never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for
from shared.models import SnapChannel, SnapRevision, utcnow
from shared.revisions_api import ChannelIn, RevisionIn


def _update_on_conflict(new: Any, item: RevisionIn) -> dict[str, Any]:
    """The SET clause for a revision already stored; ``new`` is the proposed row."""
    same_blob = and_(SnapRevision.sha3_384 == new.sha3_384, SnapRevision.size == new.size)

    def kept_unless_replaced(column: str) -> Any:
        """The stored value, unless the blob changed (then the new answer's)."""
        return case((same_blob, getattr(SnapRevision, column)), else_=new[column])

    return {
        "name": new.name,
        "upstream_url": new.upstream_url,
        "last_seen": new.last_seen,
        "sha3_384": new.sha3_384,
        "size": new.size,
        "private": case((same_blob, and_(SnapRevision.private, new.private)), else_=new.private),
        # An answer without these fields says nothing about them, unless it replaces all.
        "snap_json": new.snap_json if item.snap else kept_unless_replaced("snap_json"),
        "architectures": (
            new.architectures if item.architectures else kept_unless_replaced("architectures")
        ),
    }


async def upsert_revisions(session: AsyncSession, revisions: Sequence[RevisionIn]) -> None:
    """Insert or update each revision. The latest answer wins: a SHA3-384 or size that
    differs from the stored one replaces the whole record (the first one may have been
    wrong). ``private`` stays set only while every answer showing this blob was private:
    a public answer clears it, a private one never sets it on a blob known public."""
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
            "private": item.private,
        }
        statement = insert_for(session, SnapRevision).values(**values)
        update = _update_on_conflict(statement.excluded, item)
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
