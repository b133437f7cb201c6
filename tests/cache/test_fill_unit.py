"""The fill task in-process, with a scripted upstream (httpx.MockTransport) on SQLite.

The heartbeat must stop before the commit releases the lease: a beat after the release finds
no lease and, if still running, would cancel a fill that had just succeeded.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import pytest

from services.downloads import blobcache
from services.downloads.blobcache import BlobCache, Filling
from services.downloads.eviction import Evictor
from services.downloads.storage import LocalBlobStore
from shared import migrate
from shared.db import create_engine, create_sessionmaker
from shared.revisions_api import RevisionOut
from shared.settings import Settings

BODY = b"snap bytes " * 5000


@pytest.fixture
async def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    settings = Settings(data_dir=tmp_path, upstream_url="http://upstream.test", cache_min_free="0")
    await asyncio.to_thread(migrate.upgrade, settings)
    engine = create_engine(settings)
    blob_cache = BlobCache(
        settings, LocalBlobStore(settings.cache_dir), create_sessionmaker(engine)
    )
    blob_cache.client = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=BODY))
    )
    monkeypatch.setattr(blobcache, "HEARTBEAT_EVERY", 0.01)
    yield blob_cache
    await blob_cache.aclose()
    await engine.dispose()


async def test_heartbeat_stops_before_the_lease_is_released(
    cache: BlobCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_room = Evictor.make_room

    async def slow_after_commit(self: Evictor, extra: int, keep: str | None = None) -> int:
        if extra == 0:  # the call after the commit: give a stray heartbeat time to fire
            await asyncio.sleep(0.2)
        return await make_room(self, extra, keep)

    monkeypatch.setattr(Evictor, "make_room", slow_after_commit)
    revision = RevisionOut(
        snap_id="a" * 32,
        name="unit",
        revision=1,
        architectures=["amd64"],
        sha3_384=hashlib.sha3_384(BODY).hexdigest(),
        size=len(BODY),
        upstream_url="http://upstream.test/blob",
        snap={},
    )
    located = await cache.locate(revision)
    assert isinstance(located, Filling) and located.local is not None
    await asyncio.gather(*cache.tasks)
    assert located.local.failed is None
    assert located.local.done
    assert await cache.committed(revision.sha3_384) is not None
