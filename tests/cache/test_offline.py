"""Offline: with the upstream unreachable, cached blobs are still served, in full and by range."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cache import MIB, Blob, blob_fetches, expected_range, fetch
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download

RANGES = ["bytes=0-0", "bytes=100-199", "bytes=-10", "bytes=500000-", "bytes=1048575-"]


def test_cached_blobs_are_served_with_the_upstream_down(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    cached, uncached = new_snap(1 * MIB), new_snap(64 * 1024)
    reference = cached.content()
    with proxy.client() as client:
        assert fetch(client, cached.url_path).body == reference
    assert blob_fetches(sim, cached) == 1

    sim.stop()
    with proxy.client() as client:
        full = fetch(client, cached.url_path)
        assert full.complete and full.status == 200 and full.body == reference
        for header in RANGES:
            first, last = expected_range(cached.size, header) or pytest.fail(header)
            got = fetch(client, cached.url_path, headers={"Range": header})
            assert got.complete and got.status == 206, (header, got.error)
            assert got.headers["content-range"] == f"bytes {first}-{last}/{cached.size}"
            assert got.body == reference[first : last + 1], header

        never = fetch(client, uncached.url_path)  # nothing to serve it from
    assert never.status is not None and never.status >= 400 and never.status != 416
    assert never.headers["content-type"].startswith("application/json")
    assert "error-list" in never.body.decode()

    sim.start()
    with proxy.client() as client:
        assert fetch(client, uncached.url_path).body == uncached.content()


@pytest.mark.realclient
def test_real_client_downloads_a_cached_snap_offline(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob], tmp_path: Path
) -> None:
    blob = new_snap(1 * MIB)
    online = snap_download(proxy.url, blob.name, cwd=tmp_path / "online")
    assert online.fetched_snap and online.sha3_384 == blob.sha3_384, online.describe()

    sim.stop()
    offline = snap_download(proxy.url, blob.name, cwd=tmp_path / "offline")
    assert offline.fetched_snap and offline.sha3_384 == blob.sha3_384, offline.describe()
    assert offline.snap_path is not None and offline.snap_path.read_bytes() == blob.content()
    # It ends exactly as online does: at the trust check of the simulator's own root key.
    assert offline.error == online.error
