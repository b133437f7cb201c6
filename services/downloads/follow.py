"""Streaming a blob out of a partial file while another task (or process) is filling it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from services.downloads import repository as repo
from services.downloads.fetch import CHUNK, FillError
from shared.models import utcnow

if TYPE_CHECKING:
    from services.downloads.blobcache import BlobCache, Filling

POLL = 0.02
CHECK_OWNER_EVERY = 0.5


async def _fill_state(cache: BlobCache, sha3_384: str, owner: str) -> str:
    """``filling`` (same owner, still beating), ``committed``, or ``failed`` (including an
    owner that stopped beating: the client's retry will take the fill over)."""
    async with cache.sessionmaker() as session, session.begin():
        lease = await repo.get_fill(session, sha3_384)
        if lease is not None and lease.owner == owner:
            alive = lease.heartbeat_at >= utcnow() - cache.lease_timeout
            return "filling" if alive else "failed"
    return "committed" if cache.store.exists(sha3_384) else "failed"


def _open(cache: BlobCache, filling: Filling, sha3_384: str) -> int | None:
    for path in (filling.partial, cache.store.local_path(sha3_384)):
        try:
            return os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
    return None


async def follow_partial(
    cache: BlobCache, filling: Filling, sha3_384: str, start: int, end: int
) -> AsyncIterator[bytes]:
    """Bytes ``start..end`` of the blob as the fill writes them.

    The last byte is held back until the fill is verified and committed, so a fill that
    fails its size or SHA3-384 check ends the response short: a client never receives a
    complete body of wrong bytes.
    """
    position = start
    fd: int | None = None
    local = filling.local
    verified = False
    stalled_since = time.monotonic()
    last_owner_check = 0.0
    stall_limit = cache.settings.fill_lease_timeout * 2 + cache.settings.blob_read_timeout
    try:
        while position <= end:
            seen = (local.written, local.done, local.failed) if local is not None else None
            if fd is None:
                fd = _open(cache, filling, sha3_384)
            available = os.fstat(fd).st_size if fd is not None else 0
            readable = min(available, end + 1 if verified else end)
            if fd is not None and readable > position:
                length = readable - position
                while length > 0:
                    chunk = os.pread(fd, min(CHUNK, length), position)
                    if not chunk:
                        break
                    position += len(chunk)
                    length -= len(chunk)
                    yield chunk
                stalled_since = time.monotonic()
                continue
            if local is not None:
                if local.failed is not None:
                    raise FillError(local.failed)
                if local.done:
                    verified = True
                    fd = _reopen_committed(cache, sha3_384, fd, end)
                    continue
                async with local.changed:
                    if (local.written, local.done, local.failed) == seen:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(local.changed.wait(), 1.0)
            else:
                await asyncio.sleep(POLL)
                if time.monotonic() - last_owner_check >= CHECK_OWNER_EVERY:
                    last_owner_check = time.monotonic()
                    state = await _fill_state(cache, sha3_384, filling.owner)
                    if state == "failed":
                        raise FillError("the fill of this blob failed upstream")
                    if state == "committed":
                        verified = True
                        fd = _reopen_committed(cache, sha3_384, fd, end)
            if time.monotonic() - stalled_since > stall_limit:
                raise FillError("the fill of this blob stalled")
    finally:
        if fd is not None:
            os.close(fd)


def _reopen_committed(cache: BlobCache, sha3_384: str, fd: int | None, end: int) -> int | None:
    """Once the blob is committed: keep ``fd`` when it holds the whole range (it is the
    committed file, renamed from the partial), else open the committed file."""
    if fd is not None and os.fstat(fd).st_size > end:
        return fd
    try:
        committed = os.open(cache.store.local_path(sha3_384), os.O_RDONLY)
    except FileNotFoundError:
        raise FillError("the blob was removed as soon as it was stored") from None
    if fd is not None:
        os.close(fd)
    return committed
