"""Finding 20: a resume far beyond a refill's position got no headers until the fill caught
up (16 s; snapd gave up on it). A range that starts well ahead of a running fill is now
answered from the upstream with a ranged request (passed through, not cached)."""

from __future__ import annotations

import threading

from tests.support.cache import MIB, Fetched, fetch, publish, wait_for
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle


def test_a_resume_far_ahead_of_the_fill_is_answered_from_upstream(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    proxy = any_proxy
    blob = publish(sim, 40 * MIB, "f20")
    sim.set_faults(bandwidth_bps=2 * MIB)  # the fill takes twenty seconds
    whole: list[Fetched] = []

    def download() -> None:
        with proxy.client() as client:
            whole.append(fetch(client, blob.url_path))

    filling = threading.Thread(target=download)
    filling.start()
    assert wait_for(lambda: any(p.stat().st_size > 0 for p in proxy.partial_files()), 10)
    offset = 30 * MIB
    with proxy.client() as client:
        resumed = fetch(client, blob.url_path, headers={"Range": f"bytes={offset}-"})
    fill_position = max((p.stat().st_size for p in proxy.partial_files()), default=blob.size)
    assert resumed.status == 206 and resumed.complete, resumed.error
    assert resumed.body == blob.content()[offset:]
    assert fill_position < offset  # answered before the fill got there
    filling.join(60)
    assert whole[0].complete and whole[0].body == blob.content()
