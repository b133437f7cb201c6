"""The size cap: least recently used blobs go first, pinned ones never."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.cache import (
    MIB,
    Blob,
    assert_cache_consistent,
    blob_fetches,
    fetch,
    running_fast_embedded,
    running_fast_split,
)
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

SIZE = 1 * MIB
CAP = SIZE * 7 // 2  # three snaps' worth, and a half


@pytest.fixture(scope="module", params=["embedded", pytest.param("split", marks=pytest.mark.split)])
def capped_proxy(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    cache_upstream: SimHandle,
) -> Iterator[ProxyUnderTest]:
    """A proxy with SNAPPROXY_CACHE_MAX_SIZE at three and a half snaps."""
    env = {"SNAPPROXY_CACHE_MAX_SIZE": f"{CAP}B", "SNAPPROXY_CACHE_MIN_FREE": "0"}
    base = tmp_path_factory.mktemp(f"capped-{request.param}")
    if request.param == "embedded":
        with running_fast_embedded(base, cache_upstream, **env) as proxy:
            yield proxy
    else:
        with running_fast_split(base, cache_upstream, 1, **env) as proxy:
            yield proxy


@pytest.fixture
def capped(capped_proxy: ProxyUnderTest) -> ProxyUnderTest:
    """The capped proxy, emptied."""
    capped_proxy.evict()
    return capped_proxy


def get(proxy: ProxyUnderTest, blob: Blob) -> None:
    with proxy.client() as client:
        got = fetch(client, blob.url_path)
    assert got.complete and got.body == blob.content(), got.error


def cached_names(proxy: ProxyUnderTest) -> set[str]:
    return {entry["name"] for entry in proxy.entries()}


def assert_under_cap(proxy: ProxyUnderTest) -> None:
    stats = proxy.stats()["totals"]
    assert stats["max-size"] == CAP
    assert stats["size"] <= CAP
    on_disk = sum(path.stat().st_size for path in proxy.blob_files().values())
    assert on_disk == stats["size"]


def test_least_recently_used_are_evicted(
    capped: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    a, b, c, d, e = (new_snap(SIZE) for _ in range(5))
    for blob in (a, b, c):
        get(capped, blob)
        assert_under_cap(capped)
    assert cached_names(capped) == {a.name, b.name, c.name}

    get(capped, a)  # a hit: now b is the least recently used
    get(capped, d)
    assert_under_cap(capped)
    assert cached_names(capped) == {a.name, c.name, d.name}
    get(capped, e)
    assert_under_cap(capped)
    assert cached_names(capped) == {a.name, d.name, e.name}
    assert_cache_consistent(capped)
    assert capped.snap_stats(b.name)["evictions"] == 1
    assert capped.snap_stats(c.name)["evictions"] == 1
    assert capped.snap_stats(a.name)["evictions"] == 0
    assert all(blob_fetches(sim, blob) == 1 for blob in (a, b, c, d, e))

    get(capped, b)  # evicted, so fetched again; a, now the least recently used, makes room
    assert blob_fetches(sim, b) == 2
    assert cached_names(capped) == {d.name, e.name, b.name}
    assert_under_cap(capped)


def test_pinned_blobs_are_never_evicted(
    capped: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    pinned, *others = (new_snap(SIZE) for _ in range(5))
    get(capped, pinned)
    assert capped.pin(pinned.name) == 1
    for blob in others:
        get(capped, blob)
        assert_under_cap(capped)
        assert pinned.name in cached_names(capped)
    entries = {entry["name"]: entry for entry in capped.entries()}
    assert entries[pinned.name]["pinned"] is True
    assert set(entries) == {pinned.name, others[-2].name, others[-1].name}
    assert_cache_consistent(capped)

    assert capped.pin(pinned.name, pinned=False) == 1
    for blob in others[:2]:
        get(capped, blob)
    assert pinned.name not in cached_names(capped)  # unpinned, it is the oldest
    assert_under_cap(capped)
