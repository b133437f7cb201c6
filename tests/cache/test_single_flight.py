"""Issue 5: however many clients ask at once, each blob crosses from upstream once.

Judged by Debian's real ``snap download`` (snapd 2.57.6): ten of them at once on a cold
cache, then ten more on the warm one, in the embedded default and in the split topology
with two downloads replicas behind nginx (the fill lease is shared through PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.cache import MIB, Blob, assert_cache_consistent
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle
from tests.support.snapclient import SnapDownloadResult, snap_download

CLIENTS = 10


@pytest.fixture(
    params=[
        "embedded",
        pytest.param("split", marks=pytest.mark.split),
        pytest.param("split-2-downloads", marks=pytest.mark.split),
    ]
)
def topology(request: pytest.FixtureRequest) -> ProxyUnderTest:
    fixture = {
        "embedded": "embedded_cache",
        "split": "split_single",
        "split-2-downloads": "split_cache",
    }[request.param]
    proxy: ProxyUnderTest = request.getfixturevalue(fixture)
    return proxy


def served_by_replica(proxy: ProxyUnderTest, blob: Blob) -> list[int]:
    """How many download requests for ``blob`` each downloads replica logged."""
    assert proxy.topology is not None
    counts = []
    for replica in range(proxy.topology.replicas["downloads"]):
        log = (proxy.topology.workdir / f"downloads-{replica}.log").read_text(errors="replace")
        counts.append(log.count(f"path={blob.url_path} "))
    return counts


def download_wave(proxy: ProxyUnderTest, blob: Blob, base: Path) -> list[SnapDownloadResult]:
    """``CLIENTS`` concurrent ``snap download``, each into a fresh directory."""

    def one(index: int) -> SnapDownloadResult:
        return snap_download(proxy.url, blob.name, cwd=base / f"client-{index}", timeout=120)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, range(CLIENTS)))


def assert_all_identical(results: list[SnapDownloadResult], blob: Blob) -> None:
    reference = blob.content()
    for result in results:
        # Against any store but Canonical's, snap download ends at the assertion trust
        # check, after the blob has been fetched and its sha3-384 checked.
        assert result.snap_path is not None, result.describe()
        assert result.fetched_snap, result.describe()
        assert result.sha3_384 == blob.sha3_384, result.describe()
        assert result.snap_path.read_bytes() == reference
        assert result.partial_path is None


@pytest.mark.realclient
def test_ten_clients_one_upstream_fetch(
    topology: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob], tmp_path: Path
) -> None:
    proxy = topology
    blob = new_snap(6 * MIB)
    # A slow upstream (about 3 s for the blob) so that the ten clients really overlap.
    sim.set_faults(bandwidth_bps=2 * MIB)

    cold = download_wave(proxy, blob, tmp_path / "cold")
    assert_all_identical(cold, blob)
    blobs = sim.stats()["blobs"]
    assert blobs == {blob.file: {"requests": 1, "bytes": blob.size}}
    counters = proxy.snap_stats(blob.name)
    assert counters["bytes-from-upstream"] == blob.size
    assert counters["misses"] + counters["hits"] == CLIENTS
    if proxy.topology is not None and proxy.topology.replicas["downloads"] > 1:
        # Both replicas served the cold wave: the one fetch was shared across processes.
        assert all(served_by_replica(proxy, blob)), served_by_replica(proxy, blob)

    sim.reset()
    warm = download_wave(proxy, blob, tmp_path / "warm")
    assert_all_identical(warm, blob)
    stats = sim.stats()
    assert stats["blobs"] == {}
    assert not any("download" in request for request in stats["requests"]), stats["requests"]
    warm_counters = proxy.snap_stats(blob.name)
    assert warm_counters["hits"] == counters["hits"] + CLIENTS
    assert warm_counters["misses"] == counters["misses"]
    assert warm_counters["bytes-from-upstream"] == blob.size
    assert [e["sha3-384"] for e in proxy.entries(blob.name)] == [blob.sha3_384]
    assert_cache_consistent(proxy)
