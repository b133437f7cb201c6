"""The fill in-process, with a scripted upstream (an injected httpx transport) on SQLite.

The heartbeat must stop before the commit releases the lease: a beat after the release finds
no lease and, if still running, would cancel a fill that had just succeeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.downloads import drivers, fills
from services.downloads.answers import Hit, Requester, Stream
from services.downloads.blobcache import BlobCache
from services.downloads.errors import FillError
from services.downloads.eviction import Evictor
from services.downloads.ledger import Claim
from services.downloads.revision_index import RevisionFacts
from tests.support.unit_cache import read_stream, revision_facts, unit_cache

BODY = b"snap bytes " * 5000
FACTS = revision_facts(BODY, "unit", "a" * 32)


@pytest.fixture
async def cache(tmp_path: Path) -> AsyncIterator[BlobCache]:
    async with unit_cache(tmp_path, BODY) as blob_cache:
        yield blob_cache


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
    body, _ = await read_stream(opened)
    await asyncio.gather(*cache.drivers.tasks)
    assert body == BODY
    assert isinstance(await cache.open(FACTS, None, Requester("127.0.0.1")), Hit)
    assert [e.sha3_384 for e in await cache.entries()] == [FACTS.sha3_384]


async def test_a_claim_that_names_nobody_is_made_again(
    cache: BlobCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fill can end between a claim's two looks (its lease row gone, its owner's lock not
    released yet): that claim names nobody. A process whose followed fill went away claims
    again until someone is named; it used to fail the fill's devices (an AssertionError in
    the driver, answered 503, seen once in the eviction load test)."""
    real_claim = cache.drivers._claim
    calls = 0

    async def nobody_twice(facts: RevisionFacts) -> tuple[Path, Claim]:
        nonlocal calls
        calls += 1
        if calls <= 2:
            return cache.store.new_partial(facts.sha3_384), Claim(None, None)
        return await real_claim(facts)

    monkeypatch.setattr(cache.drivers, "_claim", nobody_twice)
    monkeypatch.setattr(drivers, "LOOK_AGAIN", 0.0)
    _, claim = await cache.drivers._claim_named(FACTS)
    assert calls == 3 and claim.lock is not None  # SQLite: the ledger row is the lock
    await claim.lock.release()


async def test_a_claim_that_never_names_anyone_fails_the_fill(
    cache: BlobCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def nobody(facts: RevisionFacts) -> tuple[Path, Claim]:
        return cache.store.new_partial(facts.sha3_384), Claim(None, None)

    monkeypatch.setattr(cache.drivers, "_claim", nobody)
    monkeypatch.setattr(drivers, "LOOK_AGAIN", 0.0)
    with pytest.raises(FillError, match="could not settle"):
        await cache.drivers._claim_named(FACTS)


async def test_a_zero_copy_follower_gets_the_fill_as_parts_of_its_file(cache: BlobCache) -> None:
    """``zero_copy`` (the server sends parts of open files): a fill's bytes come as file
    parts, whole and in order, the last byte once the blob is verified."""
    opened = await cache.open(FACTS, None, Requester("127.0.0.1"), zero_copy=True)
    assert isinstance(opened, Stream)
    body, segments = await read_stream(opened)
    await asyncio.gather(*cache.drivers.tasks)
    assert body == BODY
    assert segments >= 2  # the last byte comes apart, after the check
    again = await cache.open(FACTS, (10, 99), Requester("127.0.0.1"), zero_copy=True)
    assert isinstance(again, Hit)
