"""Findings 17 and 18: small and full disks.

17. A snap bigger than the disk wiped the cache and still failed: on a 40 MiB volume a
    64 MiB snap evicted every blob, then failed with "no space left on device" as a 200 cut
    mid-body, and each retry fetched it again. Fit is now checked before anything is
    evicted; a blob that cannot fit is streamed through uncached.
18. A volume smaller than the free-space reserve made every fill evict everything and marked
    storage unhealthy from the first second although downloads worked. The reserve is now
    sized to the volume, and health stays honest.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
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
    tmpfs,
)
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle


@pytest.fixture(scope="module", params=["embedded", pytest.param("split", marks=pytest.mark.split)])
def small_disk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    """A proxy whose cache is on a 40 MiB volume, with the default 512 MiB reserve."""
    base = tmp_path_factory.mktemp(f"small-disk-{request.param}")
    data_dir = base / "data" if request.param == "split" else base
    with tmpfs(data_dir / "cache", "40m"):
        if request.param == "embedded":
            with running_fast_embedded(base, upstream) as proxy:
                yield proxy
        else:
            with running_fast_split(base, upstream, 1) as proxy:
                yield proxy


def get(proxy: ProxyUnderTest, blob: Blob) -> Fetched:
    with proxy.client() as client:
        return fetch(client, blob.url_path)


def test_storage_is_healthy_on_a_volume_smaller_than_the_reserve(
    small_disk: ProxyUnderTest,
) -> None:
    response = httpx.get(small_disk.url + "/_status/downloads/check", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["storage"]["ok"] is True


def test_fills_on_a_small_volume_keep_what_fits(small_disk: ProxyUnderTest, sim: SimHandle) -> None:
    small_disk.evict()
    blobs = [publish(sim, 4 * MIB, "f18") for _ in range(3)]
    for blob in blobs:
        got = get(small_disk, blob)
        assert got.complete and got.body == blob.content(), got.error
    assert {e["sha3-384"] for e in small_disk.entries()} == {b.sha3_384 for b in blobs}
    assert_cache_consistent(small_disk)


def test_a_snap_bigger_than_the_disk_streams_through_and_evicts_nothing(
    small_disk: ProxyUnderTest, sim: SimHandle
) -> None:
    small_disk.evict()
    kept = publish(sim, 4 * MIB, "f17-kept")
    assert get(small_disk, kept).complete
    huge = publish(sim, 64 * MIB, "f17-huge")

    for attempt in (1, 2):
        got = get(small_disk, huge)
        assert got.complete and got.status == 200, got.error
        assert got.body == huge.content()
        assert blob_fetches(sim, huge) == attempt  # not cached: each request goes upstream
    assert [e["sha3-384"] for e in small_disk.entries()] == [kept.sha3_384]
    assert small_disk.snap_stats(huge.name)["failed-fills"] == 0
    assert_cache_consistent(small_disk)
