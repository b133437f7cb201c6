"""Beyond the Snap Store Proxy: freeze every channel the proxy has seen at its current
revision (and thaw exactly those pins), promote one channel's revision to another, and read
the audit log."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.revisions import overrides_repository as repo
from services.revisions.overrides import Context, pin_one, record_revision, unpin
from services.revisions.upstream_facts import UpstreamSnap, revision_answer, snap_info
from shared.channels import short_channel
from shared.errors import BadRequest, NotFound
from shared.models import OverrideChange
from shared.overrides_api import MAX_OVERRIDES


class _Answers:
    """The upstream's storeSnap of each revision, asked for once."""

    def __init__(self, context: Context, session: AsyncSession) -> None:
        self.context = context
        self.session = session
        self.found: dict[tuple[str, int], dict[str, Any]] = {}

    async def get(self, snap: UpstreamSnap, revision: int) -> dict[str, Any]:
        key = (snap.snap_id, revision)
        if key not in self.found:
            answer = await revision_answer(self.context.upstream, snap, revision)
            if answer is None:
                raise NotFound(
                    f"the upstream store no longer has revision {revision} of {snap.name}",
                    code="revision-not-found",
                )
            await record_revision(self.session, self.context.policy, snap, revision, answer)
            self.found[key] = answer
        return self.found[key]


def change_json(change: OverrideChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "changed_at": change.changed_at.isoformat(),
        "actor": change.actor,
        "action": change.action,
        "snap_id": change.snap_id,
        "snap_name": change.snap_name,
        "channel": short_channel(change.channel),
        "architecture": change.architecture,
        "old_revision": change.old_revision,
        "new_revision": change.new_revision,
    }


async def _logged_since(session: AsyncSession, before: int) -> list[dict[str, Any]]:
    """The changes logged by this transaction (ids above ``before``), oldest first."""
    recent = await repo.changes(session, None, MAX_OVERRIDES)
    return [change_json(c) for c in reversed(recent) if c.id > before]


async def _last_change_id(session: AsyncSession) -> int:
    last = await repo.changes(session, None, 1)
    return last[0].id if last else 0


async def freeze(
    session: AsyncSession, context: Context, names: list[str], channel: str | None
) -> list[dict[str, Any]]:
    """Pin every channel the proxy has seen (of ``names``; only ``channel``) that has no pin
    yet to the revision the upstream holds there now. Answers the changes made."""
    before = await _last_change_id(session)
    seen = [
        s for s in await repo.seen_channels(session, names) if not channel or s.channel == channel
    ]
    unseen = sorted(set(names) - {s.name for s in seen})
    if unseen:
        where = f" on {short_channel(channel)}" if channel else ""
        raise BadRequest(f"the proxy has not seen {', '.join(unseen)}{where}: nothing to freeze")
    by_snap: dict[str, list[Any]] = defaultdict(list)
    for position in seen:
        by_snap[position.name].append(position)
    answers = _Answers(context, session)
    for name, positions in by_snap.items():
        snap = await snap_info(context.upstream, name)
        for position in positions:
            pinned = await repo.find_override(
                session, snap.snap_id, position.channel, position.architecture, "16"
            )
            if pinned is not None:
                continue
            revision = snap.devices_get(position.channel, position.architecture)
            if revision is None:
                continue  # closed upstream since: nothing devices get there to keep
            answer = await answers.get(snap, revision)
            await pin_one(
                session,
                context,
                snap,
                position.channel,
                position.architecture,
                revision,
                answer,
                action="freeze",
                frozen=True,
            )
    return await _logged_since(session, before)


async def unfreeze(
    session: AsyncSession, context: Context, names: list[str], channel: str | None
) -> list[dict[str, Any]]:
    """Drop the pins ``freeze`` made (of ``names``; only ``channel``); the admin's own stay."""
    before = await _last_change_id(session)
    rows = [
        row
        for row in await repo.all_overrides(session, MAX_OVERRIDES)
        if row.frozen
        and (not names or row.snap_name in names)
        and (not channel or row.channel == channel)
    ]
    await unpin(session, context, rows, "unfreeze")
    return await _logged_since(session, before)


async def promote(
    session: AsyncSession, context: Context, name: str, source: str, target: str
) -> list[dict[str, Any]]:
    """Pin ``target`` (each architecture) to what devices on ``source`` get now: its pin,
    else the upstream's revision there."""
    if source == target:
        raise BadRequest("promote needs two different channels")
    before = await _last_change_id(session)
    snap = await snap_info(context.upstream, name)
    pins = {
        r.architecture: r.revision
        for r in await repo.overrides_of(session, name)
        if r.channel == source
    }
    now = {
        arch: revision
        for arch in {*snap.architectures, *pins}
        if (revision := pins.get(arch) or snap.devices_get(source, arch)) is not None
    }
    if not now:
        raise BadRequest(f"devices on {short_channel(source)} get no revision of {name}")
    answers = _Answers(context, session)
    for architecture, revision in sorted(now.items()):
        answer = await answers.get(snap, revision)
        await pin_one(
            session, context, snap, target, architecture, revision, answer, "promote", False
        )
    return await _logged_since(session, before)


async def change_log(
    session: AsyncSession, snap_name: str | None, limit: int
) -> list[dict[str, Any]]:
    return [change_json(c) for c in await repo.changes(session, snap_name, limit)]
