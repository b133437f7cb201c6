"""Finding 5: any client could flush the cache.

A 1-byte Range request for a revision larger than the cap evicted everything, then filled
anyway and left the cache far over SNAPPROXY_CACHE_MAX_SIZE. A blob that cannot fit is now
streamed through uncached and evicts nothing, and concurrent fills are bounded overall and
per client address.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.support.cache import (
    MIB,
    Blob,
    Fetched,
    assert_cache_consistent,
    blob_fetches,
    fetch,
    publish,
    running_fast_embedded,
    running_fast_split,
    wait_for,
)
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

CAP = 4 * MIB
SETTINGS = {
    "SNAPPROXY_CACHE_MAX_SIZE": f"{CAP}B",  # a bare number would be MiB
    "SNAPPROXY_CACHE_MIN_FREE": "0",
    "SNAPPROXY_MAX_FILLS_PER_CLIENT": "2",
}


@pytest.fixture(scope="module", params=["embedded", pytest.param("split", marks=pytest.mark.split)])
def capped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    base = tmp_path_factory.mktemp(f"f05-{request.param}")
    if request.param == "embedded":
        with running_fast_embedded(base, upstream, **SETTINGS) as proxy:
            yield proxy
    else:
        with running_fast_split(base, upstream, 1, **SETTINGS) as proxy:
            yield proxy


def get(proxy: ProxyUnderTest, blob: Blob, **headers: str) -> Fetched:
    with proxy.client() as client:
        return fetch(client, blob.url_path, headers=headers or None)


def test_a_blob_over_the_cap_evicts_nothing_and_is_streamed_through(
    capped: ProxyUnderTest, sim: SimHandle
) -> None:
    capped.evict()
    kept = [publish(sim, 1 * MIB, "f05-kept") for _ in range(2)]
    for blob in kept:
        assert get(capped, blob).body == blob.content()
    big = publish(sim, 6 * MIB, "f05-big")

    one_byte = get(capped, big, Range="bytes=0-0")
    assert one_byte.status == 206 and one_byte.body == big.content()[:1], one_byte.error
    whole = get(capped, big)
    assert whole.complete and whole.body == big.content(), whole.error

    assert {e["sha3-384"] for e in capped.entries()} == {b.sha3_384 for b in kept}
    assert capped.stats()["totals"]["size"] <= CAP
    assert blob_fetches(sim, big) == 2  # uncached: each request went upstream
    assert_cache_consistent(capped)


def test_fills_per_client_are_bounded(capped: ProxyUnderTest, sim: SimHandle) -> None:
    """Two fills at a time per client address; the third gets a 503 with Retry-After (snapd
    retries it) and the two others complete."""
    capped.evict()
    blobs = [publish(sim, 1 * MIB, "f05-slow") for _ in range(3)]
    sim.set_faults(bandwidth_bps=256 * 1024)  # each fill takes about four seconds
    results: dict[str, Fetched] = {}
    started = threading.Barrier(2)

    def download(blob: Blob) -> None:
        started.wait()
        results[blob.name] = get(capped, blob)

    threads = [threading.Thread(target=download, args=(blob,)) for blob in blobs[:2]]
    for thread in threads:
        thread.start()
    assert wait_for(lambda: len(capped.partial_files()) >= 2, 10)
    refused = get(capped, blobs[2])
    for thread in threads:
        thread.join(60)
    assert refused.status == 503, refused
    assert refused.headers["retry-after"]
    assert b"too-many-downloads" in refused.body
    for blob in blobs[:2]:
        assert results[blob.name].complete and results[blob.name].body == blob.content()
    assert blob_fetches(sim, blobs[2]) == 0

    sim.clear_faults()
    again = get(capped, blobs[2])
    assert again.complete and again.body == blobs[2].content()
