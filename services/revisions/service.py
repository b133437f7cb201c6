"""What the proxy knows of snap revisions: record what upstream said, resolve it later.

Only the other services send observations (with the internal secret), and what they send
came from the upstream store. Still, a revision is recorded only when its blob URL is one
the downloads service may fetch (``shared.egress``) and its size is within
``SNAPPROXY_MAX_SNAP_SIZE``; the upstream's latest answer about a revision wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.revisions import repository
from shared.channels import normalize_channel
from shared.egress import BlobOrigins
from shared.errors import NotFound
from shared.models import SnapRevision
from shared.names import MAX_REVISION
from shared.revisions_api import (
    Observation,
    ResolveQuery,
    RevisionIn,
    RevisionOut,
)
from shared.settings import Settings

log = structlog.get_logger(__name__)

MAX_ARCHITECTURES = 256  # characters of the comma-joined list (the column's width)


@dataclass(frozen=True)
class RecordPolicy:
    """Which revisions are recorded: blob URLs on the allow-list, sizes up to a cap."""

    origins: BlobOrigins
    max_size: int

    @classmethod
    def from_settings(cls, settings: Settings) -> RecordPolicy:
        return cls(BlobOrigins.from_settings(settings), settings.max_snap_size_bytes)

    def refusal(self, item: RevisionIn) -> str | None:
        """Why ``item`` is not recorded, or None."""
        if item.revision > MAX_REVISION:
            return "revision number out of range"
        if item.size > self.max_size:
            return f"size over SNAPPROXY_MAX_SNAP_SIZE ({self.max_size} bytes)"
        if len(",".join(item.architectures)) > MAX_ARCHITECTURES:
            return "too many architectures"
        if not self.origins.allows(item.upstream_url):
            return "blob URL not on the allow-list (SNAPPROXY_UPSTREAM_URL, SNAPPROXY_CDN_HOSTS)"
        return None


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
        private=row.private,
    )


def _where(url: str) -> str:
    """A URL's scheme, host and port only (its path and query may carry tokens)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port}"[:200]
    except ValueError:
        return "(unparsable)"


async def record(session: AsyncSession, observation: Observation, policy: RecordPolicy) -> None:
    """Store what an answer showed; what ``policy`` refuses is skipped (and logged)."""
    revisions = []
    for item in observation.revisions:
        reason = policy.refusal(item)
        if reason is None:
            revisions.append(item)
            continue
        log.warning(
            "revisions.not_recorded",
            snap_id=item.snap_id,
            revision=item.revision,
            size=item.size,
            blob=_where(item.upstream_url),
            reason=reason,
        )
    await repository.upsert_revisions(session, revisions)
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
