"""Who fills each blob, in this process: a driver task per blob runs the filler, or watches
another process fill and takes the fill over at once when that process dies.

:class:`FillDrivers` owns this process's fills (``fills``: the blobs being filled or
watched, ``tasks``: their drivers) and the bounds on them (per process, per client). It
calls the ledger, the filler, the follower's ``watch`` and the store, never back up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import TypeVar

import httpx
import structlog

from services.downloads import metrics
from services.downloads.answers import CacheLimits, Hit, Requester
from services.downloads.errors import FillError, TooManyFills
from services.downloads.fills import Filler, FillState
from services.downloads.follower import WatchOutcome, watch
from services.downloads.ledger import Claim, Lease, Ledger
from services.downloads.ownership import OwnerLock, new_owner_id
from services.downloads.remote import mirror
from services.downloads.revision_index import RevisionFacts
from services.downloads.storage import BlobStore, StoredBlob
from shared.models import CacheFill

log = structlog.get_logger(__name__)
T = TypeVar("T")
# How often, and how many seconds apart, a process looks again for who fills a blob when a
# claim named nobody (a fill ended between the claim's two looks).
SETTLE_LOOKS, LOOK_AGAIN = 20, 0.05


class FillDrivers:
    def __init__(
        self,
        *,
        filler: Filler,
        store: BlobStore,
        ledger: Ledger,
        io: Executor,
        limits: CacheLimits,
        peers: httpx.AsyncClient,
        node_url: str | None = None,
    ) -> None:
        self.filler = filler
        self.peers = peers  # other nodes' downloads processes (the internal secret on each)
        self.node_url = node_url
        self.store = store
        self.ledger = ledger
        self.io = io
        self.limits = limits
        self.owner = new_owner_id()
        self.fills: dict[str, FillState] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.filling_for: Counter[str] = Counter()
        self.closing = False

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.io, function, *args)

    async def _find(self, sha3_384: str) -> StoredBlob | None:
        return await self._in_thread(self.store.find, sha3_384)

    def remote(self, lease: Lease) -> bool:
        """The lease's owner runs on another node: its partial file is not on this disk."""
        return lease.node_url is not None and lease.node_url != self.node_url

    async def _claim(self, facts: RevisionFacts) -> tuple[Path, Claim]:
        """A new partial file of ours, and the ledger's answer: may this process fill the
        blob into it? Counted (``snapproxy_cache_fill_claims_total``)."""
        partial = await self._in_thread(self.store.new_partial, facts.sha3_384)
        metrics.CACHE_FILL_CLAIMS.inc()
        fill = CacheFill(
            sha3_384=facts.sha3_384,
            owner=self.owner,
            partial_name=partial.name,
            size=facts.size,
            node_url=self.node_url,
            name=facts.name[:64],
            revision=facts.revision,
        )
        return partial, await self.ledger.claim(fill)

    async def _claim_named(self, facts: RevisionFacts) -> tuple[Path, Claim]:
        """A claim that names the filler: this process (a lock) or another's lease. A fill
        that ends between the two looks of a claim (its lease gone, its lock not released
        yet) names nobody: look again."""
        for _ in range(SETTLE_LOOKS):
            partial, claim = await self._claim(facts)
            if claim.lock is not None or claim.lease is not None:
                return partial, claim
            await asyncio.sleep(LOOK_AGAIN)
        raise FillError("could not settle who fills this blob")

    async def join_or_start(self, facts: RevisionFacts, requester: Requester) -> FillState | Hit:
        sha3 = facts.sha3_384
        for _ in range(SETTLE_LOOKS):
            if (state := self.followable(sha3)) is not None:
                return state
            if self.closing:
                raise FillError("the proxy is restarting; retry")
            self._check_limits(requester.address)
            partial, claim = await self._claim(facts)
            if (state := self.followable(sha3)) is not None:  # another request of ours won
                if claim.lock is not None:
                    await self._release(claim.lock, sha3)
                return state
            if claim.lock is not None:
                if claim.orphan is not None:  # a dead owner's partial file
                    await self._in_thread(_unlink, self.store.partial_path(claim.orphan))
                if (stored := await self._find(sha3)) is not None:  # committed meanwhile
                    await self._release(claim.lock, sha3)
                    return Hit(stored)
                state = FillState(sha3, facts.size, partial, self.owner)
                self._drive(state, facts, claim.lock, requester)
                return state
            if claim.lease is not None:
                remote = self.remote(claim.lease)  # then copied into a file of our own
                path = partial if remote else self.store.partial_path(claim.lease.partial_name)
                state = FillState(sha3, facts.size, path, claim.lease.owner)
                self._drive(state, facts, None, requester, claim.lease)
                return state
            await asyncio.sleep(LOOK_AGAIN)  # the lease went away between two looks
        raise FillError("could not settle who fills this blob")

    def _check_limits(self, client: str | None) -> None:
        owned = sum(1 for state in self.fills.values() if state.owner == self.owner)
        if owned >= self.limits.max_fills:
            raise TooManyFills("the proxy is fetching as many snaps as it may; retry shortly")
        if client is not None and self.filling_for[client] >= self.limits.max_fills_per_client:
            raise TooManyFills(
                f"this client has {self.filling_for[client]} snaps being fetched; retry shortly"
            )

    async def _release(self, lock: OwnerLock, sha3: str) -> None:
        await lock.release()
        await self.ledger.release(sha3, self.owner)

    def _drive(
        self,
        state: FillState,
        facts: RevisionFacts,
        lock: OwnerLock | None,
        requester: Requester,
        lease: Lease | None = None,
    ) -> None:
        self.fills[state.sha3_384] = state
        client = requester.address if lock is not None else None  # counted: fills it starts
        if client is not None:
            self.filling_for[client] += 1
        task = asyncio.create_task(self._run_driver(state, facts, lock, requester, lease))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run_driver(
        self,
        state: FillState,
        facts: RevisionFacts,
        lock: OwnerLock | None,
        requester: Requester,
        lease: Lease | None,
    ) -> None:
        """Fill, or follow another process's fill (on this disk: ``watch``; on another node:
        ``mirror``); take over when that process dies."""
        client = requester.address if lock is not None else None
        # A copy of another node's fill, ours to delete once it is not needed.
        copy = state.path if lease is not None and self.remote(lease) else None
        try:
            while True:
                if lock is not None:
                    await self.filler.run(state, facts, lock, requester.credentials)
                    return
                assert lease is not None
                outcome = await self._follow(state, lease)
                if outcome not in (WatchOutcome.OWNER_DEAD, WatchOutcome.GONE, WatchOutcome.MOVED):
                    return
                partial, claim = await self._claim_named(facts)
                lock, lease = claim.lock, claim.lease
                if lock is not None:
                    dead = copy if outcome is WatchOutcome.MOVED else state.path
                    await state.switch(partial, self.owner)
                    if dead is not None:
                        await self._in_thread(_unlink, dead)
                    copy = None
                    if claim.orphan is not None:
                        await self._in_thread(_unlink, self.store.partial_path(claim.orphan))
                elif lease is not None and self.remote(lease):
                    if copy is not None:
                        await self._in_thread(_unlink, copy)
                    copy = partial
                    await state.switch(partial, lease.owner)
                elif lease is not None:
                    await state.switch(self.store.partial_path(lease.partial_name), lease.owner)
        except Exception as exc:
            if not state.finished:
                state.failed = exc if isinstance(exc, FillError) else FillError(str(exc))
                await state.notify()
            log.warning("cache.driver_failed", error=str(exc) or type(exc).__name__)
        finally:
            if copy is not None:  # this node's followers have it open, or read the store
                await self._in_thread(_unlink, copy)
            if self.fills.get(state.sha3_384) is state:
                del self.fills[state.sha3_384]
            if client is not None:
                self.filling_for[client] -= 1
                if self.filling_for[client] <= 0:
                    del self.filling_for[client]

    async def _follow(self, state: FillState, lease: Lease) -> WatchOutcome:
        if self.remote(lease):
            return await mirror(
                state,
                lease,
                self.ledger,
                self.store,
                self.io,
                self.peers,
                self.limits.stall_limit,
            )
        return await watch(state, lease, self.ledger, self.store, self.io, self.remote)

    def followable(self, sha3_384: str) -> FillState | None:
        """The fill of ``sha3_384`` a new request can follow. Not one verified already: its
        blob is stored (a hit), or was evicted as soon as it was (then it is filled again;
        following it would end in "removed as soon as it was stored")."""
        state = self.fills.get(sha3_384)
        return state if state is not None and not state.verified else None

    def own_fill(self, sha3_384: str) -> FillState | None:
        """The fill of ``sha3_384`` this process owns, if any (other nodes stream it)."""
        state = self.fills.get(sha3_384)
        return state if state is not None and state.owner == self.owner else None

    async def aclose(self) -> None:
        """Let running fills finish within the grace, then cancel the rest (their leases
        expire and another process takes them over)."""
        self.closing = True
        if self.tasks:
            _, pending = await asyncio.wait(set(self.tasks), timeout=self.limits.shutdown_grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


def _unlink(path: os.PathLike[str]) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
