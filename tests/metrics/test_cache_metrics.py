"""The download cache's metrics, after real ``snap download`` runs through the proxy."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.metrics.conftest import Monitored
from tests.support.cache import Blob, Fetched, blob_fetches, fetch, publish
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download

KIB = 1024
DOWNLOAD_ROUTE = "/api/v1/snaps/download/{filename}"
LOOKUP = "POST /v2/snaps/refresh"  # how the proxy asks the upstream about one revision


def _wait_for(scrape: Callable[[], float], wanted: float, timeout: float = 60) -> float:
    """A gauge's value once it is ``wanted`` (or the last value seen, after ``timeout``)."""
    import time

    deadline = time.monotonic() + timeout
    value = scrape()
    while value != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
        value = scrape()
    return value


def _download(monitored: Monitored, blob: Blob, directory: Path) -> None:
    result = snap_download(monitored.proxy.url, blob.name, cwd=directory)
    # Against any store but Canonical's, snap download stops at the assertion trust check,
    # after the blob was fetched and its sha3-384 checked.
    assert result.fetched_snap, result.describe()
    assert result.sha3_384 == blob.sha3_384, result.describe()


def test_a_miss_then_hits_with_the_real_client(
    monitored: Monitored, sim: SimHandle, tmp_path: Path
) -> None:
    blob = publish(sim, 700 * KIB, prefix="metrics")
    before = monitored.scrape()
    _download(monitored, blob, tmp_path / "first")
    _download(monitored, blob, tmp_path / "second")
    _download(monitored, blob, tmp_path / "third")
    after = monitored.scrape()

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert blob_fetches(sim, blob) == 1  # the upstream saw one fetch: the fill
    assert delta("snapproxy_cache_misses_total") == 1
    assert delta("snapproxy_cache_hits_total") == 2
    assert delta("snapproxy_cache_hit_bytes_total") == 2 * blob.size
    assert delta("snapproxy_cache_fill_streamed_bytes_total") == blob.size
    assert delta("snapproxy_cache_upstream_bytes_total", kind="fill") == blob.size
    assert delta("snapproxy_cache_upstream_bytes_total", kind="passthrough") == 0
    assert delta("snapproxy_cache_fills_total", outcome="committed") == 1
    assert delta("snapproxy_cache_fills_total", outcome="failed") == 0
    # Nothing in flight once the downloads are over.
    assert _wait_for(lambda: monitored.scrape().value("snapproxy_cache_fills_in_flight"), 0) == 0
    assert _wait_for(lambda: monitored.scrape().value("snapproxy_cache_followers"), 0) == 0
    # The downloads themselves, by route template (snapd asks the long form).
    routes = {"service": "downloads", "method": "GET", "status": "200"}
    long_form = delta("snapproxy_http_requests_total", route=DOWNLOAD_ROUTE, **routes)
    short_form = delta("snapproxy_http_requests_total", route="/download/{filename}", **routes)
    assert long_form + short_form == 3


def test_an_admin_eviction_is_counted(monitored: Monitored, sim: SimHandle, tmp_path: Path) -> None:
    blob = publish(sim, 200 * KIB, prefix="metrics-evict")
    _download(monitored, blob, tmp_path / "fill")
    before = monitored.scrape()
    evicted = monitored.proxy.evict(blob.name)
    assert [entry["sha3-384"] for entry in evicted] == [blob.sha3_384]
    after = monitored.scrape()
    reason = {"reason": "admin"}
    assert (
        after.value("snapproxy_cache_evictions_total", **reason)
        - before.value("snapproxy_cache_evictions_total", **reason)
        == 1
    )
    assert (
        after.value("snapproxy_cache_evicted_bytes_total", **reason)
        - before.value("snapproxy_cache_evicted_bytes_total", **reason)
        == blob.size
    )


def test_thirty_devices_asking_for_a_new_snap_at_once_make_one_claim(
    monitored: Monitored, sim: SimHandle
) -> None:
    """The requests of a process for one blob settle who fills it one at a time: one claim
    in the ledger, and the other requests follow its fill (fifty at once took 50 claims and
    some 400 ms to a first byte before: docs/performance.md). They share one upstream
    lookup of the revision too."""
    blob = publish(sim, 512 * KIB, prefix="claims")
    devices = 30
    everyone_ready = threading.Barrier(devices)

    def download(_: int) -> Fetched:
        with monitored.proxy.client() as device:
            everyone_ready.wait()
            return fetch(device, blob.url_path)

    before = monitored.scrape_service("downloads")
    lookups_before = sim.stats()["requests"].get(LOOKUP, 0)
    sim.set_faults(bandwidth_bps=512 * KIB)  # the fill takes about a second
    try:
        with ThreadPoolExecutor(devices) as pool:
            got = list(pool.map(download, range(devices)))
    finally:
        sim.clear_faults()
    after = monitored.scrape_service("downloads")
    assert [g.error for g in got if not g.complete] == []
    assert {hashlib.sha3_384(g.body).hexdigest() for g in got} == {blob.sha3_384}
    assert blob_fetches(sim, blob) == 1
    claims = "snapproxy_cache_fill_claims_total"
    assert after.value(claims) - before.value(claims) == 1
    # Nobody had recorded the revision: the process asked the upstream about it once, for
    # all thirty (each request asked on its own before: 30 lookups).
    assert sim.stats()["requests"].get(LOOKUP, 0) - lookups_before == 1
