"""What the proxy knows of snap revisions: record what upstream said, resolve it later."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.revisions import repository
from shared.channels import normalize_channel
from shared.errors import NotFound
from shared.models import SnapRevision
from shared.revisions_api import (
    Observation,
    ResolveQuery,
    RevisionIn,
    RevisionOut,
)

# Revisions are stored as 32-bit integers (PostgreSQL INTEGER); a larger number names none.
MAX_REVISION = 2**31 - 1
MAX_SIZE = 2**63 - 1  # BIGINT
MAX_ARCHITECTURES = 256  # characters of the comma-joined list (the column's width)


def _out(row: SnapRevision) -> RevisionOut:
    snap: dict[str, Any] = json.loads(row.snap_json or "{}")
    return RevisionOut(
        snap_id=row.snap_id,
        name=row.name,
        revision=row.revision,
        architectures=[a for a in row.architectures.split(",") if a],
        sha3_384=row.sha3_384,
        size=row.size,
        upstream_url=row.upstream_url,
        snap=snap,
    )


def _storable(item: RevisionIn) -> bool:
    return (
        item.revision <= MAX_REVISION
        and item.size <= MAX_SIZE
        and len(",".join(item.architectures)) <= MAX_ARCHITECTURES
    )


async def record(session: AsyncSession, observation: Observation) -> None:
    """Store what an answer showed; what no column can hold names no real revision: skipped."""
    await repository.upsert_revisions(session, [r for r in observation.revisions if _storable(r)])
    channels = [c for c in observation.channels if c.revision <= MAX_REVISION]
    for channel in channels:
        channel.channel = normalize_channel(channel.channel)
    await repository.upsert_channels(session, channels)


async def get(session: AsyncSession, snap_id: str, revision: int) -> RevisionOut:
    row = None
    if 0 < revision <= MAX_REVISION:
        row = await repository.get_revision(session, snap_id, revision)
    if row is None:
        raise NotFound(f"revision {revision} of snap {snap_id} is not known")
    return _out(row)


async def resolve(session: AsyncSession, query: ResolveQuery) -> RevisionOut | None:
    """The recorded revision a device would get for ``query``, or None."""
    if query.revision is not None:
        if not 0 < query.revision <= MAX_REVISION:
            return None
        if query.snap_id:
            row = await repository.get_revision(session, query.snap_id, query.revision)
        elif query.name:
            row = await repository.find_revision_by_name(session, query.name, query.revision)
        else:
            return None
        return _out(row) if row is not None else None
    channel = await repository.find_channel(
        session,
        architecture=query.architecture,
        channel=normalize_channel(query.channel or "stable"),
        snap_id=query.snap_id,
        name=query.name,
    )
    if channel is None:
        return None
    row = await repository.get_revision(session, channel.snap_id, channel.revision)
    return _out(row) if row is not None else None
