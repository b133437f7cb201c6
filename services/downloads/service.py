"""Serving one snap download, in plain values: which revision, may this requester have it,
then the cache's answer (a hit, or a stream of a fill). The routes do the HTTP."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from services.downloads.answers import Hit, Requester, Stream
from services.downloads.blobcache import BlobCache
from services.downloads.ranges import parse_range
from services.downloads.revision_index import RevisionFacts, RevisionIndex
from shared.errors import NotFound
from shared.names import MAX_REVISION
from shared.pushed_api import PushedClient

BLOB_NAME = re.compile(r"(?P<snap_id>[A-Za-z0-9]{1,64})_(?P<revision>[1-9][0-9]{0,9})\.snap")


@dataclass(frozen=True)
class DownloadRequest:
    """What a download request says, as plain values."""

    filename: str
    head: bool = False
    range_header: str | None = None
    client: str | None = None
    # Headers a store lookup needs (architecture, series, user agent) and the requester's
    # own store credentials (never the admin token).
    device: Mapping[str, str] = field(default_factory=dict)
    credentials: Mapping[str, str] = field(default_factory=dict)
    # The gateway found the file of a hit this service answered gone: look in the store
    # again, not in what it found lately.
    recheck: bool = False
    # The server sends parts of open files itself: a fill's bytes may come as FileSegments.
    zero_copy: bool = False


@dataclass(frozen=True)
class Download:
    """The answer: the revision, the range asked for, and a hit or a stream (None: a HEAD
    for a blob that is not cached yet)."""

    facts: RevisionFacts
    byte_range: tuple[int, int] | None
    content: Hit | Stream | None


def parse_blob_name(filename: str) -> tuple[str, int]:
    """``<snap-id>_<revision>.snap`` -> (snap-id, revision); NotFound for anything else."""
    match = BLOB_NAME.fullmatch(filename)
    if match is None or int(match["revision"]) > MAX_REVISION:
        raise NotFound(f"no snap file named {filename[:100]!r}")
    return match["snap_id"], int(match["revision"])


class Downloads:
    def __init__(
        self,
        index: RevisionIndex,
        cache: BlobCache,
        pushed: PushedClient | None = None,
        airgap: Callable[[], bool] = lambda: False,
    ) -> None:
        self.index = index
        self.cache = cache
        self.pushed = pushed
        self.airgap = airgap  # proxy.airgap as it is now

    async def _imported(self, snap_id: str, number: int) -> RevisionFacts:
        """Airgap mode: an imported revision whose blob is here, or NotFound at once (the
        upstream is never asked, a blob never filled)."""
        revision = await self.pushed.revision(snap_id, number) if self.pushed else None
        if revision is None or await self.cache.find(revision.sha3_384) is None:
            raise NotFound(f"revision {number} of snap {snap_id} is not imported")
        return RevisionFacts.of(revision)

    async def _facts(self, request: DownloadRequest) -> RevisionFacts:
        snap_id, number = parse_blob_name(request.filename)
        if self.airgap():
            return await self._imported(snap_id, number)
        facts = await self.index.get(snap_id, number)
        if facts is None:
            facts = await self.index.discover(snap_id, number, request.device, request.credentials)
        elif facts.private:
            # Fetched first for a request with store credentials: only requesters the
            # upstream gives it to may have it (or everyone, once it turns out public).
            facts = await self.index.confirm(facts, request.device, request.credentials)
        if facts is None:
            raise NotFound(f"revision {number} of snap {snap_id} is not known upstream")
        return facts

    async def open(self, request: DownloadRequest) -> Download:
        facts = await self._facts(request)
        byte_range = parse_range(request.range_header, facts.size)
        if request.head:
            stored = await self.cache.find(facts.sha3_384, request.recheck)
            return Download(facts, byte_range, Hit(stored) if stored is not None else None)
        requester = Requester(request.client, request.credentials)
        content = await self.cache.open(
            facts, byte_range, requester, request.recheck, request.zero_copy
        )
        return Download(facts, byte_range, content)

    async def prefetch(self, filename: str, device: Mapping[str, str]) -> tuple[RevisionFacts, str]:
        """Fill the blob of ``filename`` (``<snap-id>_<revision>.snap``) with no one waiting,
        asked as a device without store credentials (public snaps): the revision's facts and
        the cache's answer (``BlobCache.prefetch``)."""
        facts = await self._facts(DownloadRequest(filename=filename, device=device))
        return facts, await self.cache.prefetch(facts)
