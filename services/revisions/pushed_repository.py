"""SQL for imported snaps (``pushed_*`` tables, offline mode); never commits.

Written by ``snap-proxy push-snap`` and ``delete-pushed-snap`` (in one transaction each, with
the other services' rows of the same import), read by the revisions service's internal API.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for
from shared.models import PushedChannel, PushedRevision, PushedSnap, utcnow


@dataclass(frozen=True)
class RevisionRow:
    snap_id: str
    name: str
    revision: int
    architectures: list[str]
    sha3_384: str
    size: int
    snap: dict[str, Any]


@dataclass(frozen=True)
class ChannelRow:
    snap_id: str
    name: str
    architecture: str
    channel: str
    revision: int


async def save_snap(
    session: AsyncSession, *, snap_id: str, name: str, info: Any, find: Any
) -> bool:
    """Insert or update a snap's metadata; True when something changed."""
    info_json = json.dumps(info, sort_keys=True, separators=(",", ":"))
    find_json = json.dumps(find, sort_keys=True, separators=(",", ":"))
    found = await session.get(PushedSnap, snap_id)
    if found is not None and (found.name, found.info_json, found.find_json) == (
        name,
        info_json,
        find_json,
    ):
        return False
    statement = insert_for(session, PushedSnap).values(
        snap_id=snap_id, name=name, info_json=info_json, find_json=find_json, pushed_at=utcnow()
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["snap_id"],
            set_={"name": name, "info_json": info_json, "find_json": find_json},
        )
    )
    return True


async def save_revision(session: AsyncSession, row: RevisionRow) -> bool:
    """Insert a revision (an imported revision never changes); True when it is new."""
    statement = insert_for(session, PushedRevision).values(
        snap_id=row.snap_id,
        name=row.name,
        revision=row.revision,
        architectures=",".join(row.architectures),
        sha3_384=row.sha3_384,
        size=row.size,
        snap_json=json.dumps(row.snap, sort_keys=True, separators=(",", ":")),
        pushed_at=utcnow(),
    )
    result = await session.execute(
        statement.on_conflict_do_nothing(index_elements=["snap_id", "revision"])
    )
    return bool(getattr(result, "rowcount", 0))


async def save_channel(session: AsyncSession, row: ChannelRow) -> bool:
    """Point a channel at a revision; True when it changed."""
    found = (
        await session.execute(
            select(PushedChannel).where(
                PushedChannel.snap_id == row.snap_id,
                PushedChannel.architecture == row.architecture,
                PushedChannel.channel == row.channel,
            )
        )
    ).scalar_one_or_none()
    if found is not None:
        if found.revision == row.revision:
            return False
        found.revision = row.revision
        return True
    session.add(
        PushedChannel(
            snap_id=row.snap_id,
            name=row.name,
            architecture=row.architecture,
            channel=row.channel,
            revision=row.revision,
        )
    )
    return True


async def snaps(session: AsyncSession, name: str | None = None) -> list[PushedSnap]:
    query = select(PushedSnap).order_by(PushedSnap.name)
    if name is not None:
        query = query.where(PushedSnap.name == name)
    return list((await session.execute(query)).scalars())


async def revisions(session: AsyncSession, snap_id: str) -> list[PushedRevision]:
    query = select(PushedRevision).where(PushedRevision.snap_id == snap_id)
    return list((await session.execute(query.order_by(PushedRevision.revision))).scalars())


async def channels(session: AsyncSession, snap_id: str) -> list[PushedChannel]:
    query = select(PushedChannel).where(PushedChannel.snap_id == snap_id)
    rows = (await session.execute(query.order_by(PushedChannel.channel))).scalars()
    return list(rows)


async def revision(session: AsyncSession, snap_id: str, number: int) -> PushedRevision | None:
    query = select(PushedRevision).where(
        PushedRevision.snap_id == snap_id, PushedRevision.revision == number
    )
    return (await session.execute(query)).scalar_one_or_none()


async def revision_by_name(session: AsyncSession, name: str, number: int) -> PushedRevision | None:
    query = select(PushedRevision).where(
        PushedRevision.name == name, PushedRevision.revision == number
    )
    return (await session.execute(query)).scalar_one_or_none()


async def channel(
    session: AsyncSession, *, architecture: str, channel: str, snap_id: str | None, name: str | None
) -> PushedChannel | None:
    query = select(PushedChannel).where(
        PushedChannel.architecture == architecture, PushedChannel.channel == channel
    )
    if snap_id:
        query = query.where(PushedChannel.snap_id == snap_id)
    elif name:
        query = query.where(PushedChannel.name == name)
    else:
        return None
    return (await session.execute(query)).scalar_one_or_none()


async def uses_blob(session: AsyncSession, sha3_384: str) -> bool:
    query = select(PushedRevision.id).where(PushedRevision.sha3_384 == sha3_384).limit(1)
    return (await session.execute(query)).first() is not None


async def delete_revisions(session: AsyncSession, snap_id: str, numbers: Sequence[int]) -> None:
    """Drop these revisions and the channels that pointed at them."""
    await session.execute(
        delete(PushedChannel).where(
            PushedChannel.snap_id == snap_id, PushedChannel.revision.in_(list(numbers))
        )
    )
    await session.execute(
        delete(PushedRevision).where(
            PushedRevision.snap_id == snap_id, PushedRevision.revision.in_(list(numbers))
        )
    )


async def delete_snap(session: AsyncSession, snap_id: str) -> None:
    await session.execute(delete(PushedChannel).where(PushedChannel.snap_id == snap_id))
    await session.execute(delete(PushedRevision).where(PushedRevision.snap_id == snap_id))
    await session.execute(delete(PushedSnap).where(PushedSnap.snap_id == snap_id))
