"""The cache admin API: stats, entries, evict, pin and verify (admin bearer token)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx

from services.downloads.storage import RETIRED_GRACE
from tests.support.cache import (
    KIB,
    Blob,
    assert_cache_consistent,
    blob_fetches,
    fetch,
    wait_for,
)
from tests.support.proxies import ADMIN_TOKEN, ProxyUnderTest
from tests.support.sim import SimHandle


def get(proxy: ProxyUnderTest, blob: Blob, headers: dict[str, str] | None = None) -> bytes:
    with proxy.client() as client:
        got = fetch(client, blob.url_path, headers=headers)
    assert got.complete, got.error
    return got.body


def test_admin_api_needs_the_token(proxy: ProxyUnderTest) -> None:
    for path in ("/v1/cache/stats", "/v1/cache/entries"):
        assert httpx.get(proxy.url + path).status_code == 401
        wrong = {"Authorization": f"Bearer not-{ADMIN_TOKEN}"}
        assert httpx.get(proxy.url + path, headers=wrong).status_code in (401, 403)
    assert httpx.post(proxy.url + "/v1/cache/evict", json={"all": True}).status_code == 401


def test_stats_count_hits_misses_and_bytes_per_snap(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    one, two = new_snap(300 * KIB), new_snap(100 * KIB)
    zero = proxy.snap_stats(one.name)
    assert (zero["hits"], zero["misses"], zero["bytes-from-upstream"]) == (0, 0, 0)

    get(proxy, one)  # miss
    get(proxy, one)  # hit
    get(proxy, one, {"Range": "bytes=1000-1999"})  # hit, 1000 bytes
    get(proxy, two)  # miss
    stats = proxy.stats()
    assert stats["snaps"][one.name] == {
        "hits": 2,
        "misses": 1,
        "bytes-from-cache": one.size + 1000,
        "bytes-from-upstream": one.size,
        "failed-fills": 0,
        "evictions": 0,
        "bytes-relayed": one.size,  # the miss, streamed from the fill
        # sent (from cache and relayed) minus fetched upstream
        "bytes-saved": one.size + 1000,
    }
    assert stats["snaps"][two.name]["misses"] == 1
    assert stats["snaps"][two.name]["hits"] == 0
    assert stats["snaps"][two.name]["bytes-from-upstream"] == two.size
    totals = stats["totals"]
    for field in ("hits", "misses", "bytes-from-cache", "bytes-from-upstream"):
        assert totals[field] == sum(snap[field] for snap in stats["snaps"].values())
    entries = proxy.entries()
    assert totals["entries"] == len(entries)
    assert totals["size"] == sum(entry["size"] for entry in entries)
    assert totals["max-size"] is None
    assert blob_fetches(sim, one) == 1 and blob_fetches(sim, two) == 1


def test_entries(proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]) -> None:
    blob = new_snap(64 * KIB)
    assert proxy.entries(blob.name) == []
    get(proxy, blob)
    (entry,) = proxy.entries(blob.name)
    assert entry["name"] == blob.name
    assert entry["snap-id"] == blob.snap_id
    assert entry["revision"] == blob.revision
    assert entry["size"] == blob.size
    assert entry["sha3-384"] == blob.sha3_384
    assert entry["pinned"] is False
    stored, accessed = (datetime.fromisoformat(entry[k]) for k in ("stored-at", "last-access"))
    assert stored.tzinfo is not None and accessed >= stored
    assert entry in proxy.entries()
    assert proxy.stored_path(blob.sha3_384).stat().st_size == blob.size


def test_evict_a_snap_then_everything(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    one, two = new_snap(64 * KIB), new_snap(64 * KIB)
    get(proxy, one)
    get(proxy, two)
    evicted = proxy.evict(one.name)
    assert [entry["sha3-384"] for entry in evicted] == [one.sha3_384]
    assert proxy.entries(one.name) == []
    assert one.sha3_384 not in proxy.blob_files()  # a miss at once; the file goes later
    file_gone = wait_for(lambda: not proxy.stored_path(one.sha3_384).exists(), RETIRED_GRACE + 15)
    assert file_gone, "the evicted blob's file outlived its grace"
    assert proxy.snap_stats(one.name)["evictions"] == 1
    assert [entry["sha3-384"] for entry in proxy.entries(two.name)] == [two.sha3_384]

    assert get(proxy, one) == one.content()  # fetched afresh
    assert blob_fetches(sim, one) == 2

    everything = proxy.evict()
    assert {one.sha3_384, two.sha3_384} <= {entry["sha3-384"] for entry in everything}
    assert proxy.entries() == []
    assert proxy.blob_files() == {}
    assert proxy.stats()["totals"]["size"] == 0

    with proxy.admin() as admin:
        assert admin.post("/v1/cache/evict", json={}).status_code == 400


def test_pin_marks_entries(proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]) -> None:
    blob = new_snap(64 * KIB)
    get(proxy, blob)
    assert proxy.pin(blob.name) == 1
    assert [entry["pinned"] for entry in proxy.entries(blob.name)] == [True]
    assert proxy.pin(blob.name, pinned=False) == 1
    assert [entry["pinned"] for entry in proxy.entries(blob.name)] == [False]
    assert proxy.pin("never-cached-snap") == 0


def test_verify_drops_a_corrupted_or_missing_file(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    corrupted, missing, intact = new_snap(200 * KIB), new_snap(64 * KIB), new_snap(64 * KIB)
    for blob in (corrupted, missing, intact):
        get(proxy, blob)
    path = proxy.stored_path(corrupted.sha3_384)
    with path.open("r+b") as stored:  # one flipped byte, same size
        stored.seek(corrupted.size // 2)
        byte = stored.read(1)
        stored.seek(corrupted.size // 2)
        stored.write(bytes([byte[0] ^ 0xFF]))
    proxy.stored_path(missing.sha3_384).unlink()

    with proxy.admin() as admin:
        response = admin.post("/v1/cache/verify")
    assert response.status_code == 200
    report = response.json()
    dropped = {entry["sha3-384"]: entry["reason"] for entry in report["dropped"]}
    assert dropped == {corrupted.sha3_384: "corrupt", missing.sha3_384: "missing"}
    assert report["verified"] >= 1
    assert not path.exists()
    assert proxy.entries(corrupted.name) == [] and proxy.entries(missing.name) == []
    assert [entry["sha3-384"] for entry in proxy.entries(intact.name)] == [intact.sha3_384]
    assert_cache_consistent(proxy)

    assert get(proxy, corrupted) == corrupted.content()  # fetched afresh
    assert blob_fetches(sim, corrupted) == 2
    assert get(proxy, intact) == intact.content()
    assert blob_fetches(sim, intact) == 1
