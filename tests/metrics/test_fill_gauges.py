"""The fill gauges while a fill runs (three clients on one slow fill), and an LRU eviction
under a size cap, as the metrics show them."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shared.split import free_port
from tests.metrics.conftest import Monitored
from tests.support.cache import MIB, Blob, blob_fetches, fetch, publish, wait_for
from tests.support.proxies import ADMIN_TOKEN, EmbeddedProxy, ProxyUnderTest
from tests.support.sim import SimHandle

CLIENTS = 3
KIB = 1024


def test_fills_in_flight_and_followers_while_three_clients_share_a_fill(
    monitored: Monitored, sim: SimHandle
) -> None:
    blob = publish(sim, 4 * MIB, prefix="metrics-gauges")
    sim.set_faults(bandwidth_bps=1 * MIB)  # the fill takes about four seconds
    seen: list[tuple[float, float]] = []

    def gauges() -> tuple[float, float]:
        scraped = monitored.scrape()
        value = (
            scraped.value("snapproxy_cache_fills_in_flight"),
            scraped.value("snapproxy_cache_followers"),
        )
        seen.append(value)
        return value

    with ThreadPoolExecutor(CLIENTS) as pool, monitored.proxy.client() as client:
        downloads = [pool.submit(fetch, client, blob.url_path) for _ in range(CLIENTS)]
        assert wait_for(lambda: gauges() == (1, CLIENTS), 60, every=0.1), seen
        results = [download.result(timeout=120) for download in downloads]
    reference = blob.content()
    assert all(result.complete and result.body == reference for result in results)
    assert blob_fetches(sim, blob) == 1
    assert wait_for(lambda: gauges() == (0, 0), 60, every=0.2), seen[-5:]


@pytest.fixture
def capped(tmp_path: Path, upstream: SimHandle) -> Iterator[Monitored]:
    """An embedded proxy whose cache holds 1 MiB."""
    metrics_port = free_port()
    proxy = EmbeddedProxy(
        tmp_path / "capped",
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        SNAPPROXY_METRICS_PORT=str(metrics_port),
        SNAPPROXY_CACHE_MAX_SIZE="1MiB",
        **upstream.proxy_env(),
    )
    proxy.start()
    try:
        yield Monitored(
            ProxyUnderTest("capped", proxy.url, tmp_path / "capped", embedded=proxy),
            {"embedded": f"http://127.0.0.1:{metrics_port}"},
        )
    finally:
        proxy.stop()


def test_an_lru_eviction_under_the_size_cap(capped: Monitored, sim: SimHandle) -> None:
    first, second = (publish(sim, 600 * KIB, prefix="metrics-lru") for _ in range(2))
    blobs: list[Blob] = [first, second]
    with capped.proxy.client() as client:
        for blob in blobs:  # the second one's fill makes room: the first goes
            assert fetch(client, blob.url_path).complete
    scraped = capped.scrape()
    assert [entry["sha3-384"] for entry in capped.proxy.entries()] == [second.sha3_384]
    assert scraped.value("snapproxy_cache_evictions_total", reason="lru") == 1
    assert scraped.value("snapproxy_cache_evicted_bytes_total", reason="lru") == first.size
    assert scraped.value("snapproxy_cache_evictions_total", reason="admin") == 0
