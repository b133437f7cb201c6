"""Findings 15 and 16: a fill whose owner goes away.

15. A dead owner's partial file was served, then cut: after a kill -9 or a restart, followers
    (and the restarted process itself, whose owner id is new) streamed the dead fill's partial
    for up to the 10 s lease timeout, then the response was cut. A dead owner is now seen at
    once (its PostgreSQL advisory lock is gone with its session), and followers switch to the
    new owner's file without cutting the client.
16. SIGTERM during a long download could not stop cleanly: uvicorn waited for open streams
    forever. Now a stopping downloads process lets fills finish for a bounded grace, hands
    the rest over (another process takes over at once), and exits.

Two downloads replicas behind nginx on PostgreSQL; each client talks to one replica directly
so the test knows who owns the fill.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator

import pytest

from tests.support.cache import (
    MIB,
    Blob,
    Fetched,
    assert_cache_consistent,
    blob_bytes_sent,
    blob_fetches,
    fetch,
    publish,
    running_fast_split,
    wait_for,
)
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

pytestmark = pytest.mark.split
GRACE = 2


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    env = {"SNAPPROXY_SHUTDOWN_GRACE": str(GRACE)}
    with running_fast_split(tmp_path_factory.mktemp("f15"), upstream, 2, **env) as proxy:
        yield proxy


def replica_url(proxy: ProxyUnderTest, replica: int) -> str:
    assert proxy.topology is not None
    return f"http://127.0.0.1:{proxy.topology.ports['downloads'][replica]}"


def download_from(
    proxy: ProxyUnderTest, replica: int, blob: Blob, into: list[Fetched]
) -> threading.Thread:
    def run() -> None:
        with proxy.client() as client:
            client.base_url = replica_url(proxy, replica)
            got = fetch(client, blob.url_path)
        if "x-accel-redirect" in got.headers:
            # Cached by the time it asked (a loaded machine): the replica answered as it
            # answers nginx, which sends the file. Ask the gateway, as devices do.
            with proxy.client() as client:
                got = fetch(client, blob.url_path)
        into.append(got)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_filled(proxy: ProxyUnderTest, blob: Blob, share: float) -> None:
    reached = wait_for(
        lambda: [p for p in proxy.partial_files() if p.stat().st_size >= blob.size * share], 30
    )
    assert reached, f"the fill never reached {share:.0%}"


def test_a_killed_owner_is_replaced_at_once_and_followers_are_not_cut(
    replicas: ProxyUnderTest, sim: SimHandle
) -> None:
    topology = replicas.topology
    assert topology is not None
    blob = publish(sim, 6 * MIB, "f15")
    sim.set_faults(bandwidth_bps=1 * MIB)
    owner_side: list[Fetched] = []
    follower_side: list[Fetched] = []
    restarted_side: list[Fetched] = []
    owner = download_from(replicas, 0, blob, owner_side)
    wait_filled(replicas, blob, 0.1)
    follower = download_from(replicas, 1, blob, follower_side)
    wait_filled(replicas, blob, 0.3)

    topology.stop_service("downloads", 0, kill=True)
    topology.start_service("downloads", 0)  # at once, on the same partial: a fresh owner id
    restarted = download_from(replicas, 0, blob, restarted_side)
    for thread in (owner, follower, restarted):
        thread.join(60)

    assert not owner_side[0].complete  # its process died under it
    for got in (follower_side[0], restarted_side[0]):
        assert got.complete and got.body == blob.content(), got.error
    assert blob_fetches(sim, blob) == 2  # the dead owner's partial fetch, and one complete
    assert blob_bytes_sent(sim, blob) < 2 * blob.size
    assert [e["sha3-384"] for e in replicas.entries(blob.name)] == [blob.sha3_384]
    assert_cache_consistent(replicas)


def test_sigterm_mid_fill_hands_the_fill_over_and_exits_within_the_grace(
    replicas: ProxyUnderTest, sim: SimHandle
) -> None:
    topology = replicas.topology
    assert topology is not None
    blob = publish(sim, 8 * MIB, "f16")
    sim.set_faults(bandwidth_bps=1 * MIB)  # the fill takes eight seconds
    owner_side: list[Fetched] = []
    follower_side: list[Fetched] = []
    download_from(replicas, 0, blob, owner_side)
    wait_filled(replicas, blob, 0.1)
    follower = download_from(replicas, 1, blob, follower_side)
    wait_filled(replicas, blob, 0.2)

    process = topology.processes["downloads"][0]
    process.terminate()
    try:
        process.wait(GRACE * 2 + 5)  # the fill's grace, the streams' grace, and a margin
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the downloads process did not stop within its grace")
    follower.join(60)
    assert follower_side[0].complete and follower_side[0].body == blob.content()
    assert blob_fetches(sim, blob) == 2  # handed over: the new owner fetched it again
    topology.start_service("downloads", 0)
    assert_cache_consistent(replicas)
