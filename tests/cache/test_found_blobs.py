"""Found blobs are remembered for ``FOUND_VALID`` seconds (``services/downloads/storage.py``).

A hit on a blob found lately needs no ``stat`` and no thread. What this process deletes or
retires is forgotten at once, and so is a find that raced with a delete. A file another
process deleted meanwhile is looked for again when the gateway's nginx finds it gone.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from services.downloads.answers import Hit, Requester, Stream
from services.downloads.blobcache import BlobCache
from services.downloads.expiring import Expiring
from services.downloads.storage import LocalBlobStore
from tests.support.cache import KIB, Blob, assert_cache_consistent, blob_fetches, fetch
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle
from tests.support.unit_cache import read_stream, revision_facts, unit_cache

BODY = b"remembered snap " * 4096
FACTS = revision_facts(BODY, "found", "f" * 32)


def committed(store: LocalBlobStore, body: bytes) -> str:
    """Store ``body`` as a fill would: written, verified, committed; its SHA3-384."""
    sha3 = hashlib.sha3_384(body).hexdigest()
    writer = store.writer(store.new_partial(sha3), sha3)
    writer.write(body)
    assert writer.finish() == sha3
    store.commit(writer, sha3)
    return sha3


def test_a_found_blob_is_remembered_until_this_process_deletes_or_retires_it(
    tmp_path: Path,
) -> None:
    store = LocalBlobStore(tmp_path, remember_found=True)
    deleted, retired = committed(store, b"one" * 100), committed(store, b"two" * 100)
    assert store.recent(deleted) is None  # not looked for yet

    found = store.find(deleted)
    assert found is not None and found.size == 300
    assert store.recent(deleted) == found
    store.delete(deleted)
    assert store.recent(deleted) is None and store.find(deleted) is None

    assert store.find(retired) is not None and store.recent(retired) is not None
    store.retire(retired)
    assert store.recent(retired) is None
    assert store.find(retired) is None  # retired: a miss, its file kept for the grace
    assert store.local_path(retired).exists()


def test_a_store_told_not_to_remember_looks_every_time(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    sha3 = committed(store, b"three" * 100)
    assert store.find(sha3) is not None
    assert store.recent(sha3) is None


def test_a_find_that_raced_with_a_delete_is_not_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The find's ``stat`` sees the file; a delete (an eviction in another thread) comes
    before the find keeps what it saw: the blob must not be remembered as stored."""
    store = LocalBlobStore(tmp_path, remember_found=True)
    sha3 = committed(store, b"four" * 100)
    target = store.local_path(sha3)
    real_stat = Path.stat

    def stat_then_deleted(path: Path, **options: Any) -> Any:
        result = real_stat(path, **options)
        if path == target:
            store.delete(sha3)
        return result

    monkeypatch.setattr(Path, "stat", stat_then_deleted)
    assert store.find(sha3) is not None  # what the stat saw
    monkeypatch.undo()
    assert not target.exists()
    assert store.recent(sha3) is None


def test_remembered_values_expire_and_a_put_after_a_drop_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    memory: Expiring[str] = Expiring(ttl=5.0)
    memory.put("a", "found")
    now[0] += 4.9
    assert memory.get("a") == "found"
    now[0] += 0.2
    assert memory.get("a") is None

    seen = memory.drops
    memory.drop("b")  # any drop between the look and the put
    memory.put("a", "stale", seen)
    assert memory.get("a") is None
    memory.put("a", "fresh", memory.drops)
    assert memory.get("a") == "fresh"


class CountingExecutor(ThreadPoolExecutor):
    """The blob I/O pool, counting the calls sent to its threads."""

    def __init__(self) -> None:
        super().__init__(4)
        self.calls = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.calls += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
async def io() -> AsyncIterator[CountingExecutor]:
    pool = CountingExecutor()
    yield pool
    pool.shutdown()


async def filled(cache: BlobCache) -> None:
    opened = await cache.open(FACTS, None, Requester("127.0.0.1"))
    assert isinstance(opened, Stream)
    assert (await read_stream(opened))[0] == BODY
    await asyncio.gather(*cache.drivers.tasks)


async def test_a_hit_on_a_blob_found_lately_sends_nothing_to_a_thread(
    tmp_path: Path, io: CountingExecutor
) -> None:
    async with unit_cache(tmp_path, BODY, io, accel_redirect=True) as cache:
        await filled(cache)
        assert isinstance(await cache.open(FACTS, None, Requester()), Hit)  # found: a stat
        before = io.calls
        for _ in range(5):
            assert isinstance(await cache.open(FACTS, (0, 99), Requester()), Hit)
        assert io.calls == before
        # The gateway found the file gone: the store is asked again.
        assert isinstance(await cache.open(FACTS, None, Requester(), recheck=True), Hit)
        assert io.calls == before + 1


async def test_without_the_gateway_each_hit_of_a_service_looks_in_the_store(
    tmp_path: Path, io: CountingExecutor
) -> None:
    """A downloads service not behind the gateway's X-Accel-Redirect, and not embedded, may
    share its folder with replicas that delete files: it remembers nothing."""
    async with unit_cache(tmp_path, BODY, io) as cache:
        await filled(cache)
        before = io.calls
        for _ in range(3):
            assert isinstance(await cache.open(FACTS, None, Requester()), Hit)
        assert io.calls == before + 3


@pytest.mark.split
def test_a_remembered_file_another_process_deleted_is_fetched_again(
    split_single: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    """The service answers the hit from memory; nginx finds the file gone (as after another
    replica's eviction) and asks again with X-Snapproxy-Cache-Recheck: the service looks in
    the store, and the device gets the snap from a new fill, not a 404."""
    blob = new_snap(64 * KIB)
    with split_single.client() as client:
        assert fetch(client, blob.url_path).complete  # the miss that fills it
        assert fetch(client, blob.url_path).complete  # a hit: now remembered
        split_single.stored_path(blob.sha3_384).unlink()
        again = fetch(client, blob.url_path)
    assert again.status == 200 and again.complete, again.error
    assert again.body == blob.content()
    assert blob_fetches(sim, blob) == 2
    assert_cache_consistent(split_single)
