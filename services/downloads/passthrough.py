"""Streaming a blob from the upstream without caching it.

Used when a blob cannot fit in the cache (bigger than the cap, or than the disk can hold
after evicting everything evictable), and for a resume that starts far beyond where a
running fill has got to. Nothing is written to disk and nothing is evicted.

A whole blob is hashed on the way through and its last byte held back until the size and
SHA3-384 match, as for a fill; a byte range cannot be checked and is relayed as the
upstream sends it (as a direct download from the store would be).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass

import httpx

from services.downloads.errors import FillError
from services.downloads.fetch import open_upstream_blob
from services.downloads.revision_index import RevisionFacts
from shared.outbound import Outbound


@dataclass
class Relayed:
    """Bytes relayed so far, for the counters."""

    bytes: int = 0


async def open_passthrough(
    client: httpx.AsyncClient,
    allows: Callable[[str], bool],
    facts: RevisionFacts,
    byte_range: tuple[int, int] | None,
    relayed: Relayed,
    io: Executor,
    credentials: Mapping[str, str],
    upstream_url: str,
    outbound: Outbound,
) -> AsyncIterator[bytes]:
    """Open the upstream now (so a failure is a clean 503); the bytes come as iterated."""
    response = await open_upstream_blob(
        client,
        facts.upstream_url,
        allows=allows,
        byte_range=byte_range,
        credentials=credentials if facts.private else None,
        upstream_url=upstream_url,
        outbound=outbound,
    )
    if byte_range is None:
        return _whole(response, facts, relayed, io)
    return _part(response, byte_range, relayed)


async def _chunks(response: httpx.Response, relayed: Relayed) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            relayed.bytes += len(chunk)
            yield chunk
    except httpx.HTTPError as exc:
        raise FillError(
            f"upstream stopped after {relayed.bytes} bytes: {type(exc).__name__}"
        ) from None
    finally:
        await response.aclose()


async def _whole(
    response: httpx.Response, facts: RevisionFacts, relayed: Relayed, io: Executor
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    hasher = hashlib.sha3_384()
    sent = 0
    held = b""
    async for chunk in _chunks(response, relayed):
        if sent + len(held) + len(chunk) > facts.size:
            raise FillError(f"upstream sent more than the {facts.size} bytes recorded")
        await loop.run_in_executor(io, hasher.update, chunk)
        data = held + chunk
        held, data = data[-1:], data[:-1]
        if data:
            sent += len(data)
            yield data
    if sent + len(held) != facts.size or hasher.hexdigest() != facts.sha3_384:
        raise FillError("the upstream's bytes do not match the recorded size and SHA3-384")
    yield held


async def _part(
    response: httpx.Response, byte_range: tuple[int, int], relayed: Relayed
) -> AsyncIterator[bytes]:
    start, end = byte_range
    skip = start if response.status_code == 200 else 0  # the upstream ignored the range
    remaining = end - start + 1
    async for chunk in _chunks(response, relayed):
        if skip:
            cut = min(skip, len(chunk))
            chunk, skip = chunk[cut:], skip - cut
        if not chunk:
            continue
        chunk = chunk[:remaining]
        remaining -= len(chunk)
        yield chunk
        if remaining <= 0:
            return
    if remaining > 0:
        raise FillError("upstream ended the range early")
