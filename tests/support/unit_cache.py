"""The blob cache in-process, on SQLite, with a scripted upstream (an injected httpx
transport that answers every request with one body): for unit tests of the cache's parts."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from services.downloads.answers import FileSegment, Stream
from services.downloads.app import build_blob_cache
from services.downloads.blobcache import BlobCache
from services.downloads.revision_index import RevisionFacts
from shared import migrate
from shared.app import create_resources
from shared.settings import Settings

UPSTREAM = "http://upstream.test"


def revision_facts(body: bytes, name: str, snap_id: str) -> RevisionFacts:
    """Revision 1 of snap ``name``, whose blob is ``body``."""
    return RevisionFacts(
        snap_id=snap_id,
        name=name,
        revision=1,
        sha3_384=hashlib.sha3_384(body).hexdigest(),
        size=len(body),
        upstream_url=f"{UPSTREAM}/blob",
    )


@asynccontextmanager
async def unit_cache(
    data_dir: Path, body: bytes, io: Executor | None = None, **settings: Any
) -> AsyncIterator[BlobCache]:
    """A migrated SQLite database and cache folder in ``data_dir``, an upstream that sends
    ``body``, the blob I/O pool ``io`` (four threads of its own if not given), and the
    ``settings`` given."""
    config = Settings(data_dir=data_dir, upstream_url=UPSTREAM, cache_min_free="0", **settings)
    await asyncio.to_thread(migrate.upgrade, config)
    resources = create_resources(config, "unit", with_peers=False)
    pool = io or ThreadPoolExecutor(4)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    cache = build_blob_cache(config, resources, pool, transport)
    try:
        yield cache
    finally:
        await cache.aclose()
        await resources.aclose()
        if io is None:
            pool.shutdown()


async def read_stream(stream: Stream) -> tuple[bytes, int]:
    """A stream's whole body, and how many of its parts were parts of files (each read as
    it comes: its file is open only until the next part is asked for)."""
    body, segments = bytearray(), 0
    async for chunk in stream.body:
        if isinstance(chunk, FileSegment):
            segments += 1
            chunk = os.pread(chunk.fd, chunk.count, chunk.offset)
        body += chunk
    return bytes(body), segments
