"""The overrides: an admin pins a snap's channel to a revision, whatever the upstream holds.

Every change is checked against the upstream first (an unknown snap, or a revision it does
not have, is refused and nothing changes); a revision decides its architectures (one pin per
architecture it is built for). Every change is written to the audit log in the same
transaction. Callers commit; the routes then tell devicegw (``shared.overrides_api``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.revisions import overrides_repository as repo
from services.revisions import repository
from services.revisions.service import RecordPolicy
from services.revisions.upstream_facts import UpstreamSnap, revision_answer, snap_info
from shared.channels import short_channel
from shared.errors import BadRequest, NotFound, UpstreamError, UpstreamUnavailable
from shared.models import OverrideChange, RevisionOverride
from shared.overrides_api import MAX_OVERRIDES, OverrideSnapshot, PinnedRevision
from shared.revisions_api import RevisionIn
from shared.upstream import Upstream

SERIES = "16"


@dataclass(frozen=True)
class Change:
    """One item of ``POST /v2/metadata/overrides``, checked: ``channel`` is a full name;
    ``revision`` None removes the channel's pins (every architecture)."""

    snap_name: str
    channel: str
    revision: int | None
    series: str = SERIES


@dataclass(frozen=True)
class Context:
    """What a change needs besides the database: the upstream, what may be recorded, who."""

    upstream: Upstream
    policy: RecordPolicy
    actor: str


def override_json(row: RevisionOverride, upstream_revision: int | None) -> dict[str, Any]:
    return {
        "snap_id": row.snap_id,
        "snap_name": row.snap_name,
        "revision": row.revision,
        "upstream_revision": upstream_revision,
        "channel": short_channel(row.channel),
        "architecture": row.architecture,
        "series": row.series,
    }


async def _upstream_revisions(
    session: AsyncSession, upstream: Upstream, rows: list[RevisionOverride]
) -> list[int | None]:
    """What the upstream holds now in each pinned channel; when it cannot be asked, what it
    last said (recorded from devices' answers), else None."""
    live: UpstreamSnap | None = None
    if rows:
        try:
            live = await snap_info(upstream, rows[0].snap_name)
        except (UpstreamUnavailable, UpstreamError, NotFound):
            live = None
    found: list[int | None] = []
    for row in rows:
        if live is not None:
            found.append(live.revision_in(row.channel, row.architecture))
            continue
        seen = await repo.seen_channel(session, row.snap_id, row.channel, row.architecture)
        found.append(seen.revision if seen is not None else None)
    return found


async def list_overrides(
    session: AsyncSession, upstream: Upstream, snap_name: str
) -> list[dict[str, Any]]:
    rows = await repo.overrides_of(session, snap_name)
    upstream_revisions = await _upstream_revisions(session, upstream, rows)
    return [override_json(r, u) for r, u in zip(rows, upstream_revisions, strict=True)]


async def _log(
    session: AsyncSession,
    context: Context,
    action: str,
    row: RevisionOverride,
    old: int | None,
    new: int | None,
) -> None:
    await repo.add_change(
        session,
        OverrideChange(
            actor=context.actor,
            action=action,
            snap_id=row.snap_id,
            snap_name=row.snap_name,
            channel=row.channel,
            architecture=row.architecture,
            old_revision=old,
            new_revision=new,
        ),
    )


async def pin(
    session: AsyncSession,
    context: Context,
    snap: UpstreamSnap,
    channel: str,
    revision: int,
    *,
    action: str = "set",
    frozen: bool = False,
    known: dict[tuple[str, int], dict[str, Any]] | None = None,
) -> None:
    """Pin ``channel`` to ``revision`` on every architecture the revision is built for
    (``known``: the upstream's answers this request already has, by snap-id and revision)."""
    known = {} if known is None else known
    answer = known.get((snap.snap_id, revision))
    if answer is None:
        answer = await revision_answer(context.upstream, snap, revision)
        if answer is None:
            raise NotFound(
                f"the upstream store has no revision {revision} of {snap.name}",
                code="revision-not-found",
            )
        await record_revision(session, context.policy, snap, revision, answer)
        known[(snap.snap_id, revision)] = answer
    for architecture in [a for a in answer.get("architectures") or [] if isinstance(a, str)]:
        await pin_one(
            session, context, snap, channel, architecture, revision, answer, action, frozen
        )


async def pin_one(
    session: AsyncSession,
    context: Context,
    snap: UpstreamSnap,
    channel: str,
    architecture: str,
    revision: int,
    answer: dict[str, Any],
    action: str,
    frozen: bool,
) -> None:
    """Pin one architecture of ``channel`` to ``revision`` (``answer``: the upstream's
    storeSnap for it) and log the change, if it is one."""
    old = await repo.put_override(
        session,
        snap_id=snap.snap_id,
        snap_name=snap.name,
        channel=channel,
        architecture=architecture,
        series=SERIES,
        revision=revision,
        snap=answer,
        frozen=frozen,
        actor=context.actor,
    )
    if old != revision:
        row = RevisionOverride(
            snap_id=snap.snap_id, snap_name=snap.name, channel=channel, architecture=architecture
        )
        await _log(session, context, action, row, old, revision)


async def record_revision(
    session: AsyncSession,
    policy: RecordPolicy,
    snap: UpstreamSnap,
    revision: int,
    answer: dict[str, Any],
) -> None:
    """Record the pinned revision like any seen in an answer, so that the downloads service
    fetches and caches its blob; refuse a pin whose blob the proxy may not fetch."""
    download = answer.get("download") or {}
    try:
        item = RevisionIn(
            snap_id=snap.snap_id,
            name=snap.name,
            revision=revision,
            architectures=[a for a in answer.get("architectures") or [] if isinstance(a, str)],
            sha3_384=str(download.get("sha3-384", "")),
            size=int(download.get("size", -1)),
            upstream_url=str(download.get("url", "")),
            snap=answer,
        )
    except (ValueError, TypeError):
        raise BadRequest(
            f"the upstream's answer for revision {revision} of {snap.name} has no usable download"
        ) from None
    reason = policy.refusal(item)
    if reason is not None:
        raise BadRequest(f"revision {revision} of {snap.name} cannot be served: {reason}")
    await repository.upsert_revisions(session, [item])


async def unpin(
    session: AsyncSession, context: Context, rows: list[RevisionOverride], action: str
) -> None:
    for row in rows:
        await _log(session, context, action, row, row.revision, None)
    await repo.drop_overrides(session, rows)


async def _snap_for(
    session: AsyncSession, upstream: Upstream, name: str, changes: list[Change]
) -> UpstreamSnap:
    """The upstream's view of ``name``; a snap with pins that is only being unpinned is
    known already (the upstream need not be reachable to remove a pin)."""
    if all(c.revision is None for c in changes if c.snap_name == name):
        rows = await repo.overrides_of(session, name)
        if rows:
            return UpstreamSnap(snap_id=rows[0].snap_id, name=name)
    return await snap_info(upstream, name)


async def apply_changes(
    session: AsyncSession, context: Context, changes: list[Change]
) -> list[dict[str, Any]]:
    """Every change, or none (the first refusal raises before anything is written, and the
    caller's transaction is rolled back). Answers the overrides of the snaps changed."""
    snaps: dict[str, UpstreamSnap] = {}
    known: dict[tuple[str, int], dict[str, Any]] = {}
    for name in dict.fromkeys(c.snap_name for c in changes):
        snaps[name] = await _snap_for(session, context.upstream, name, changes)
    for change in changes:
        snap = snaps[change.snap_name]
        if change.revision is None:
            rows = await repo.overrides_of(session, snap.name)
            chosen = [r for r in rows if r.channel == change.channel]
            await unpin(session, context, chosen, "delete")
        else:
            await pin(session, context, snap, change.channel, change.revision, known=known)
    if await repo.count_overrides(session) > MAX_OVERRIDES:
        raise BadRequest(f"more than {MAX_OVERRIDES} overrides in all; delete some first")
    listed: list[dict[str, Any]] = []
    for name in snaps:
        listed += await list_overrides(session, context.upstream, name)
    return listed


async def snapshot(session: AsyncSession) -> OverrideSnapshot:
    """Every pin, with the revision's answer, for devicegw."""
    rows = await repo.all_overrides(session, MAX_OVERRIDES)
    return OverrideSnapshot(
        overrides=[
            PinnedRevision(
                snap_id=row.snap_id,
                snap_name=row.snap_name,
                channel=row.channel,
                architecture=row.architecture,
                revision=row.revision,
                snap=json.loads(row.snap_json or "{}"),
            )
            for row in rows
            if row.series == SERIES
        ]
    )
