"""What ``snap-proxy list-pushed-snaps`` and ``status`` say about the imported snaps, read in
one session: each snap's revisions, channels, architectures and size, and the essentials
airgap mode would miss (a base an imported snap needs, snapd). Plain values out: the CLI
(with its own connection, ``shared.offline.importer``) and the admin API
(``pushed_admin_routes``, for the dashboard) both read them here."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.revisions import pushed_repository as repo


@dataclass
class PushedSummary:
    name: str
    snap_id: str
    revisions: list[int]
    channels: list[str]  # "channel (architecture): revision"
    architectures: list[str]
    size: int


async def summaries(session: AsyncSession) -> list[PushedSummary]:
    found = []
    for snap in await repo.snaps(session):
        revisions = await repo.revisions(session, snap.snap_id)
        channels = await repo.channels(session, snap.snap_id)
        architectures = sorted({a for r in revisions for a in r.architectures.split(",") if a})
        found.append(
            PushedSummary(
                snap.name,
                snap.snap_id,
                [r.revision for r in revisions],
                [f"{c.channel} ({c.architecture}): {c.revision}" for c in channels],
                architectures,
                sum(r.size for r in revisions),
            )
        )
    return found


async def missing_essentials(session: AsyncSession) -> list[str]:
    """What devices will miss in airgap mode: bases imported snaps need, and snapd."""
    snaps = await repo.snaps(session)
    names = {snap.name for snap in snaps}
    needed: dict[str, set[str]] = {}
    for snap in snaps:
        for row in await repo.revisions(session, snap.snap_id):
            stored = json.loads(row.snap_json)
            if (stored.get("type") or "app") == "app":
                base = str(stored.get("base") or "core")
                needed.setdefault(base, set()).add(snap.name)
    warnings = [
        f"base {base} is not imported (needed by {', '.join(sorted(users))})"
        for base, users in sorted(needed.items())
        if base not in names
    ]
    if "snapd" not in names:
        warnings.append("snapd is not imported: devices cannot install snaps")
    return warnings
