"""Single flight across nodes: a blob that another node is filling, streamed from that node.

With the S3 backend, downloads replicas on different nodes share no disk. The lease row names
the owner's address (``downloads.node-url``). A replica that finds another node's lease
copies the owner's growing blob into a partial file of its own, through the owner's internal
endpoint (``GET /_internal/v1/fills/{sha3_384}?start=N``, with the internal secret), and
this node's followers read that file as they read a local fill. When the stream ends or
breaks, the ledger says what happened, as it does for :func:`follower.watch`: the blob was
committed, the fill failed, the fill moved to another owner, or its owner died (the caller
then takes the fill over).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TypeVar

import httpx
import structlog

from services.downloads.errors import FillError
from services.downloads.fills import FillState
from services.downloads.follower import WatchOutcome, lease_ended
from services.downloads.ledger import Lease, Ledger
from services.downloads.storage import BlobStore

log = structlog.get_logger(__name__)
T = TypeVar("T")
RETRY_AFTER = 0.2  # seconds between two attempts at the owner's stream


def fill_url(node_url: str, sha3_384: str) -> str:
    return f"{node_url.rstrip('/')}/_internal/v1/fills/{sha3_384}"


async def _in_thread(io: Executor, function: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(io, function, *args)


def _open_for_writing(path: os.PathLike[str]) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)


def _write_at(fd: int, chunk: bytes, offset: int) -> None:
    view = memoryview(chunk)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


async def _copy_from_owner(
    state: FillState, lease: Lease, fd: int, peers: httpx.AsyncClient, io: Executor
) -> bool:
    """Append what the owner has past ``state.available``; True once every byte is here."""
    assert lease.node_url is not None
    url = fill_url(lease.node_url, state.sha3_384)
    try:
        async with peers.stream("GET", url, params={"start": state.available}) as response:
            if response.status_code != 200:
                log.info("cache.remote_fill_refused", status=response.status_code, owner=url)
                return False
            async for chunk in response.aiter_raw():
                await _in_thread(io, _write_at, fd, chunk, state.available)
                state.available += len(chunk)
                await state.notify()
    except httpx.HTTPError as exc:
        log.info("cache.remote_fill_broke", error=str(exc) or type(exc).__name__, owner=url)
    return state.available >= state.size


async def mirror(
    state: FillState,
    lease: Lease,
    ledger: Ledger,
    store: BlobStore,
    io: Executor,
    peers: httpx.AsyncClient,
    stall_limit: float,
) -> WatchOutcome:
    """Copy another node's fill into ``state.path`` until it ends, moves or its owner dies
    (``MOVED``: the lease now names another owner; the caller looks again)."""
    fd = await _in_thread(io, _open_for_writing, state.path)
    progressed, seen = time.monotonic(), state.available
    try:
        while True:
            await _copy_from_owner(state, lease, fd, peers, io)
            if state.available != seen:
                progressed, seen = time.monotonic(), state.available
            current = await ledger.lease(state.sha3_384)
            if current is None or current.owner != lease.owner:
                return await lease_ended(state, current, store, io) or WatchOutcome.MOVED
            if await ledger.owner_dead(current):
                return WatchOutcome.OWNER_DEAD
            if time.monotonic() - progressed > stall_limit:
                state.failed = FillError(
                    "the node filling this blob does not stream it (check downloads.node-url)"
                )
                await state.notify()
                return WatchOutcome.FAILED
            await asyncio.sleep(RETRY_AFTER)
    finally:
        os.close(fd)
