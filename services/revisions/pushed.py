"""Imported snaps as the other services ask for them (airgap mode): plain values out."""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from services.revisions import pushed_repository as repo
from shared.channels import normalize_channel
from shared.models import PushedRevision, PushedSnap
from shared.names import MAX_REVISION
from shared.pushed_api import PushedChannelOut, PushedSnapOut
from shared.revisions_api import ResolveQuery, RevisionOut


def revision_out(row: PushedRevision) -> RevisionOut:
    return RevisionOut(
        snap_id=row.snap_id,
        name=row.name,
        revision=row.revision,
        architectures=[a for a in row.architectures.split(",") if a],
        sha3_384=row.sha3_384,
        size=row.size,
        upstream_url="",  # imported: there is no upstream to fetch it from
        snap=json.loads(row.snap_json),
    )


async def snap_out(session: AsyncSession, row: PushedSnap) -> PushedSnapOut:
    channels = await repo.channels(session, row.snap_id)
    revisions = await repo.revisions(session, row.snap_id)
    return PushedSnapOut(
        name=row.name,
        snap_id=row.snap_id,
        info=json.loads(row.info_json),
        find=json.loads(row.find_json),
        channels=[
            PushedChannelOut(architecture=c.architecture, channel=c.channel, revision=c.revision)
            for c in channels
        ],
        revisions=[r.revision for r in revisions],
    )


async def snap(session: AsyncSession, name: str) -> PushedSnapOut | None:
    found = await repo.snaps(session, name)
    return await snap_out(session, found[0]) if found else None


async def all_snaps(session: AsyncSession) -> list[PushedSnapOut]:
    return [await snap_out(session, row) for row in await repo.snaps(session)]


async def revision(session: AsyncSession, snap_id: str, number: int) -> RevisionOut | None:
    if not 0 < number <= MAX_REVISION:
        return None
    row = await repo.revision(session, snap_id, number)
    return revision_out(row) if row is not None else None


async def resolve(session: AsyncSession, query: ResolveQuery) -> RevisionOut | None:
    """The imported revision a device gets for ``query`` (the architecture must match, or
    the revision be for ``all``), or None."""
    if query.revision is not None:
        if not 0 < query.revision <= MAX_REVISION:
            return None
        if query.snap_id:
            row = await repo.revision(session, query.snap_id, query.revision)
        elif query.name:
            row = await repo.revision_by_name(session, query.name, query.revision)
        else:
            return None
        if row is None:
            return None
        architectures = row.architectures.split(",")
        if query.architecture not in architectures and "all" not in architectures:
            return None
        return revision_out(row)
    channel = await repo.channel(
        session,
        architecture=query.architecture,
        channel=normalize_channel(query.channel or "stable"),
        snap_id=query.snap_id,
        name=query.name,
    )
    if channel is None:
        return None
    row = await repo.revision(session, channel.snap_id, channel.revision)
    return revision_out(row) if row is not None else None
