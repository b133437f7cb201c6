"""Reading a blob while it is being filled, here or in another process.

:func:`follow` streams a byte range out of the partial file a :class:`FillState` names (and
the committed file once verified). :func:`watch` keeps a state up to date when another
process fills the blob: it polls the partial file's size and asks the ledger about the
lease, and returns when the blob is committed, the fill failed, or its owner died.
"""

from __future__ import annotations

import asyncio
import enum
import os
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from typing import TypeVar

from services.downloads import metrics
from services.downloads.answers import Chunk, FileSegment
from services.downloads.errors import FillError
from services.downloads.fills import FillState
from services.downloads.ledger import Lease, Ledger
from services.downloads.storage import BlobStore, StoredBlob

T = TypeVar("T")
CHUNK = 256 * 1024  # per read: fifty followers each hold one (memory goal: docs/performance.md)
POLL = 0.02  # seconds between looks at another process's partial file
CHECK_LEASE_EVERY = 0.5


class WatchOutcome(enum.Enum):
    COMMITTED = "committed"
    FAILED = "failed"
    OWNER_DEAD = "owner-dead"
    # No lease and no blob: the fill failed, or its blob was committed and evicted at once
    # (the two look alike from here). Either way, whoever still wants it fills it again.
    GONE = "gone"
    MOVED = "moved"  # the fill went to an owner on another node: look again


async def _in_thread(io: Executor, function: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(io, function, *args)


def _size(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


async def follow(
    state: FillState,
    store: BlobStore,
    io: Executor,
    start: int,
    end: int,
    stall_limit: float,
    zero_copy: bool = False,
) -> AsyncIterator[Chunk]:
    """Bytes ``start..end`` (inclusive) of the blob as they are written; with ``zero_copy``,
    local files come as :class:`FileSegment` parts (all that is there at each step) for the
    server to send, where otherwise they are read here, 256 KiB at a time.

    The last byte is held back until the blob is verified, so a fill that fails its size or
    SHA3-384 check ends the response short: a client never gets a whole body of wrong bytes.
    """
    position = start
    fd: int | None = None
    fd_path: os.PathLike[str] | None = None
    stored: StoredBlob | None = None
    progressed = time.monotonic()
    metrics.CACHE_FOLLOWERS.inc()
    try:
        while position <= end:
            if state.failed is not None:
                raise state.failed
            seen = state.version
            verified = state.verified
            limit = end + 1 if verified else min(state.available, end)
            if limit > position:
                path: os.PathLike[str] | None = state.path
                if verified and not (fd is not None and fd_path == state.path):
                    # Not reading the verified fill's own file (renamed, or deleted once
                    # uploaded): read the committed blob.
                    stored = stored or await _in_thread(io, store.find, state.sha3_384)
                    if stored is None:
                        raise FillError("the blob was removed as soon as it was stored")
                    path = stored.path
                    if path is None:  # no local file (S3): ranged reads of the object
                        length = min(CHUNK, limit - position)
                        chunk = await _in_thread(io, store.read, state.sha3_384, position, length)
                        if not chunk:
                            raise FillError("the stored blob is shorter than recorded")
                        position += len(chunk)
                        metrics.CACHE_FILL_STREAMED_BYTES.inc(len(chunk))
                        yield chunk
                        continue
                if path is not None and fd_path != path:
                    if fd is not None:
                        os.close(fd)
                        fd = None
                    try:
                        fd = await _in_thread(io, os.open, path, os.O_RDONLY)
                    except FileNotFoundError:
                        fd_path = None  # a new owner's file, not created yet: wait for it
                    else:
                        fd_path = path
                if fd is not None and zero_copy:
                    part = FileSegment(fd, position, limit - position)
                    position += part.count
                    progressed = time.monotonic()
                    metrics.CACHE_FILL_STREAMED_BYTES.inc(part.count)
                    yield part
                    continue
                if fd is not None:
                    chunk = await _in_thread(
                        io, os.pread, fd, min(CHUNK, limit - position), position
                    )
                    if chunk:
                        position += len(chunk)
                        progressed = time.monotonic()
                        metrics.CACHE_FILL_STREAMED_BYTES.inc(len(chunk))
                        yield chunk
                        continue
            if time.monotonic() - progressed > stall_limit:
                raise FillError("the fill of this blob stalled")
            await state.wait_past(seen, 1.0)
            if state.version != seen:  # the fill moved (a new owner catching up counts)
                progressed = time.monotonic()
    finally:
        metrics.CACHE_FOLLOWERS.dec()
        if fd is not None:
            os.close(fd)


async def follow_bytes(
    state: FillState, store: BlobStore, io: Executor, start: int, end: int, stall_limit: float
) -> AsyncIterator[bytes]:
    """:func:`follow` for whoever needs the bytes themselves (another node's process)."""
    async for chunk in follow(state, store, io, start, end, stall_limit):
        assert isinstance(chunk, bytes)  # without zero_copy, every part is read here
        yield chunk


async def lease_ended(
    state: FillState, current: Lease | None, store: BlobStore, io: Executor
) -> WatchOutcome | None:
    """The followed owner's lease is gone or someone else's: COMMITTED (the blob is stored,
    ``state`` says so), GONE (no lease and no blob), or None (another owner fills it now)."""
    if await _in_thread(io, store.find, state.sha3_384) is not None:
        state.verified = True
        await state.notify()
        return WatchOutcome.COMMITTED
    if current is None:
        return WatchOutcome.GONE
    return None


async def watch(
    state: FillState,
    lease: Lease,
    ledger: Ledger,
    store: BlobStore,
    io: Executor,
    remote: Callable[[Lease], bool],
) -> WatchOutcome:
    """Mirror another process's fill (on this node's disk) into ``state`` until it ends, its
    owner dies, or it moves to an owner on another node (``remote``)."""
    checked = time.monotonic()
    while True:
        await asyncio.sleep(POLL)
        size = await _in_thread(io, _size, state.path)
        if size != state.available:
            state.available = size
            await state.notify()
        if time.monotonic() - checked < CHECK_LEASE_EVERY:
            continue
        checked = time.monotonic()
        current = await ledger.lease(state.sha3_384)
        if current is None or current.owner != lease.owner:
            ended = await lease_ended(state, current, store, io)
            if ended is not None:
                return ended
            assert current is not None
            if remote(current):
                return WatchOutcome.MOVED
            lease = current  # another process took the fill over: follow its file
            await state.switch(store.partial_path(current.partial_name), current.owner)
            continue
        if await ledger.owner_dead(current):
            return WatchOutcome.OWNER_DEAD
