"""The overrides as devicegw applies them: every answer that names a channel's revision
(refresh, info, find) gets the pinned revision instead of the upstream's.

Answers are cached as the upstream gave them (rewritten to point at the proxy), and pins are
applied on the way out, to fresh and cached answers alike: a cached answer cannot outlive a
change. The pins themselves (:class:`OverrideBook`) are read from the revisions service
again whenever the generation in the shared cache changes, and at the latest after
``SNAPPROXY_OVERRIDES_MAX_AGE`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from services.devicegw.rewrite import rewrite_snap
from shared.cache import Cache
from shared.overrides_api import GENERATION_KEY, OverridesClient, PinnedRevision
from shared.revisions_api import Observation

log = structlog.get_logger(__name__)

# What a channel-map entry or a find ``revision`` takes from the pinned revision's answer:
# the fields of one revision (the rest describe the snap, and stay the upstream's).
REVISION_FIELDS = (
    "architectures", "base", "confinement", "created-at", "download", "epoch", "revision",
    "type", "version", "snap-yaml", "grade",
)  # fmt: skip
ALWAYS = ("revision", "version", "download")
ANY_ARCHITECTURE = "all"


@dataclass(frozen=True)
class Pins:
    """Every pin, by snap (snap-id and name) and (full channel, architecture)."""

    by_snap: dict[str, dict[tuple[str, str], PinnedRevision]] = field(default_factory=dict)

    @classmethod
    def of(cls, pins: list[PinnedRevision]) -> Pins:
        by_snap: dict[str, dict[tuple[str, str], PinnedRevision]] = {}
        for pin in pins:
            for key in (pin.snap_id, pin.snap_name):
                by_snap.setdefault(key, {})[(pin.channel, pin.architecture)] = pin
        return cls(by_snap)

    def __bool__(self) -> bool:
        return bool(self.by_snap)

    def has(self, snap: str | None) -> bool:
        return bool(snap) and snap in self.by_snap

    def find(self, snap: str | None, channel: str, architecture: str) -> PinnedRevision | None:
        """The pin of ``snap`` (a snap-id or a name) on ``channel`` for ``architecture``."""
        pins = self.by_snap.get(snap or "")
        if not pins:
            return None
        return pins.get((channel, architecture)) or pins.get((channel, ANY_ARCHITECTURE))

    def of_snap(self, snap: str | None) -> list[PinnedRevision]:
        return list(self.by_snap.get(snap or "", {}).values())


class OverrideBook:
    """This process's copy of the pins, kept current."""

    def __init__(self, client: OverridesClient, cache: Cache, max_age: float) -> None:
        self.client = client
        self.cache = cache
        self.max_age = max_age
        self.pins = Pins()
        self.generation: bytes | None = None
        self.read_at: float | None = None
        self.lock = asyncio.Lock()

    def _fresh(self, generation: bytes | None) -> bool:
        return (
            self.read_at is not None
            and generation == self.generation
            and time.monotonic() - self.read_at < self.max_age
        )

    async def current(self) -> Pins:
        """The pins as the revisions service has them (as last read, when it cannot be
        asked: a pin stays applied while the revisions service is away)."""
        generation = await self.cache.get(GENERATION_KEY)
        if self._fresh(generation):
            return self.pins
        async with self.lock:
            if self._fresh(generation):
                return self.pins
            snapshot = await self.client.snapshot()
            if snapshot is not None:
                self.pins = Pins.of(snapshot.overrides)
            else:
                log.warning("overrides.kept_last_read", pins=len(self.pins.by_snap) // 2)
            self.generation = generation
            self.read_at = time.monotonic()
        return self.pins


def pinned_snap(pin: PinnedRevision, base_url: str) -> dict[str, Any]:
    """The pinned revision's storeSnap, its download pointed at the proxy."""
    snap = dict(pin.snap)
    snap["download"] = dict(snap.get("download") or {})
    rewrite_snap(snap, base_url, Observation(), name=pin.snap_name, snap_id=pin.snap_id)
    return snap


def pin_entry(entry: dict[str, Any], pin: PinnedRevision, base_url: str) -> None:
    """A channel-map entry or a find ``revision``, made the pinned revision's (in place):
    the revision's fields the entry shows, and always its revision, version and download."""
    snap = pinned_snap(pin, base_url)
    for name in REVISION_FIELDS:
        if name in snap and (name in entry or name in ALWAYS):
            entry[name] = snap[name]
