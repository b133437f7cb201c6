"""A fill that outlasts several heartbeats (a slow upstream) still completes for everyone.

The heartbeat beats while the body arrives, so no other process takes over a live fill;
tests/cache/test_fill_unit.py checks it stops before the commit releases the lease.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.support.cache import MIB, Blob, blob_fetches, fetch
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle


def test_a_slow_fill_completes_and_is_committed(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(MIB // 2)
    sim.set_faults(bandwidth_bps=256 * 1024)  # about 2 s: a couple of heartbeats
    with proxy.client() as client:
        got = fetch(client, blob.url_path)
    assert got.complete and got.status == 200, got.error
    assert got.body == blob.content()
    assert blob_fetches(sim, blob) == 1
    assert [e["sha3-384"] for e in proxy.entries(blob.name)] == [blob.sha3_384]
    assert proxy.snap_stats(blob.name)["failed-fills"] == 0
