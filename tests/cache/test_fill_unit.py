"""The fill in-process, with a scripted upstream (an injected httpx transport) on SQLite.

The heartbeat must stop before the commit releases the lease: a beat after the release finds
no lease and, if still running, would cancel a fill that had just succeeded.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from services.downloads import fills
from services.downloads.answers import Hit, Requester, Stream
from services.downloads.app import build_blob_cache
from services.downloads.blobcache import BlobCache
from services.downloads.eviction import Evictor
from services.downloads.revision_index import RevisionFacts
from shared import migrate
from shared.app import create_resources
from shared.settings import Settings

BODY = b"snap bytes " * 5000
FACTS = RevisionFacts(
    snap_id="a" * 32,
    name="unit",
    revision=1,
    sha3_384=hashlib.sha3_384(BODY).hexdigest(),
    size=len(BODY),
    upstream_url="http://upstream.test/blob",
)


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[BlobCache]:
    settings = Settings(data_dir=tmp_path, upstream_url="http://upstream.test", cache_min_free="0")
    await asyncio.to_thread(migrate.upgrade, settings)
    resources = create_resources(settings, "unit", with_peers=False)
    io = ThreadPoolExecutor(4)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=BODY))
    blob_cache = build_blob_cache(settings, resources, io, transport)
    yield blob_cache
    await blob_cache.aclose()
    await resources.aclose()
    io.shutdown()


async def test_heartbeat_stops_before_the_lease_is_released(
    cache: BlobCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_room = Evictor.make_room

    async def slow_after_commit(self: Evictor, extra: int, keep: str | None = None) -> int:
        if extra == 0:  # the call after the commit: give a stray heartbeat time to fire
            await asyncio.sleep(0.2)
        return await make_room(self, extra, keep)

    monkeypatch.setattr(Evictor, "make_room", slow_after_commit)
    monkeypatch.setattr(fills, "HEARTBEAT_EVERY", 0.01)
    opened = await cache.open(FACTS, None, Requester("127.0.0.1"))
    assert isinstance(opened, Stream)
    body = b"".join([chunk async for chunk in opened.body])
    await asyncio.gather(*cache.drivers.tasks)
    assert body == BODY
    assert isinstance(await cache.open(FACTS, None, Requester("127.0.0.1")), Hit)
    assert [e.sha3_384 for e in await cache.entries()] == [FACTS.sha3_384]
