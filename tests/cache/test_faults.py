"""Upstream faults, a killed fill owner and a full disk: never a corrupt or partial entry in
the cache, a clear error to the client, and the next request fetches afresh.

"A clear error" is, before the first byte, a 503 with the Store's error shape; once the
body has started, a connection closed short of ``Content-Length``. A client never receives
a complete body of wrong bytes: the last byte of a response fed by a fill is held back until
the fill has passed its size and SHA3-384 checks.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.cache import (
    MIB,
    Blob,
    Fetched,
    assert_cache_consistent,
    blob_fetches,
    fetch,
    tmpfs,
    wait_for,
)
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download


def assert_clear_failure(got: Fetched, blob: Blob) -> None:
    """The client can tell it did not get the blob."""
    if got.status is not None and got.status >= 500 and got.error is None:
        assert got.headers["content-type"].startswith("application/json")
        return
    assert got.status == 200, got
    assert got.error is not None, "a failed fill must not end as a complete response"
    assert int(got.headers["content-length"]) == blob.size
    assert len(got.body) < blob.size


def assert_not_cached(proxy: ProxyUnderTest, blob: Blob) -> None:
    assert_cache_consistent(proxy)
    assert blob.sha3_384 not in proxy.blob_files()
    assert proxy.entries(blob.name) == []


def assert_fetched_afresh(proxy: ProxyUnderTest, sim: SimHandle, blob: Blob, before: int) -> None:
    with proxy.client() as client:
        got = fetch(client, blob.url_path)
    assert got.complete and got.body == blob.content(), got.error
    assert blob_fetches(sim, blob) == before + 1
    assert [e["sha3-384"] for e in proxy.entries(blob.name)] == [blob.sha3_384]
    assert_cache_consistent(proxy)


BLOB_PATHS = ["/download-origin/"]  # the simulator's CDN, where the store redirects blobs
FAULTS: dict[str, Callable[[int], dict[str, Any]]] = {
    "truncated": lambda size: {"truncate_after": size * 4 // 10},
    "corrupt": lambda size: {"corrupt": True},
    "error-503": lambda size: {"error_status": 503, "error_paths": BLOB_PATHS},
    "error-500": lambda size: {"error_status": 500, "error_paths": BLOB_PATHS},
    "stall": lambda size: {"stall_after": size * 4 // 10},
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_upstream_fault(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob], fault: str
) -> None:
    blob = new_snap(1 * MIB)
    sim.set_faults(**FAULTS[fault](blob.size))
    with proxy.client() as client:
        got = fetch(client, blob.url_path)
    assert_clear_failure(got, blob)
    if fault.startswith("error"):
        assert got.status == 503 and "upstream answered" in got.body.decode()
    fetched = blob_fetches(sim, blob)
    assert fetched == (0 if fault.startswith("error") else 1)
    assert_not_cached(proxy, blob)
    assert proxy.snap_stats(blob.name)["failed-fills"] == 1

    sim.clear_faults()
    assert_fetched_afresh(proxy, sim, blob, fetched)


@pytest.mark.realclient
@pytest.mark.parametrize("fault", ["corrupt", "truncated", "error-503"])
def test_real_client_recovers_from_a_failed_fill(
    proxy: ProxyUnderTest,
    sim: SimHandle,
    new_snap: Callable[[int], Blob],
    fault: str,
    tmp_path: Path,
) -> None:
    """snapd sees the failed fill as an error (a short body, or a 503), retries, and the
    retry gets the right bytes from a fresh fill: the failure was not cached.

    The fault lasts for the first blob request only (``requests=1``: the simulator clears it
    itself, so snapd's quick retry cannot meet it again): with a lasting fault snapd 2.57
    gives up after seven attempts (about 80 s) with ``error: unexpected EOF`` or ``error:
    received an unexpected http response code (503) when trying to download ...``.
    """
    blob = new_snap(1 * MIB)
    sim.set_faults(**FAULTS[fault](blob.size), requests=1)
    result = snap_download(proxy.url, blob.name, cwd=tmp_path, debug_http=True)
    assert result.fetched_snap and result.sha3_384 == blob.sha3_384, result.describe()
    assert f"Retrying {proxy.url}{blob.url_path}" in result.stderr, result.describe()
    assert proxy.snap_stats(blob.name)["failed-fills"] == 1
    assert blob_fetches(sim, blob) == (1 if fault.startswith("error") else 2)
    assert [e["sha3-384"] for e in proxy.entries(blob.name)] == [blob.sha3_384]
    assert_cache_consistent(proxy)


@pytest.mark.realclient
def test_real_client_gives_up_on_a_lasting_fault(
    embedded_cache: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob], tmp_path: Path
) -> None:
    """Corrupt bytes upstream on every attempt: each fill fails its SHA3-384 check, each
    response ends short, and snapd gives up after seven attempts (about 80 s) with a
    clear error, writing no snap (only its own ``.partial``). Nothing is cached, and
    afterwards a fresh fill serves the right bytes."""
    proxy = embedded_cache
    blob = new_snap(256 * 1024)
    sim.set_faults(corrupt=True)
    result = snap_download(proxy.url, blob.name, cwd=tmp_path / "faulty", timeout=150)
    # A short body on a full download; a 503 when snapd resumes at the held-back last byte.
    clear = ("error: unexpected EOF", "error: received an unexpected http response code (503)")
    assert result.returncode != 0 and (result.error or "").startswith(clear), result.describe()
    assert result.snap_path is None and not result.fetched_snap
    failed = proxy.snap_stats(blob.name)["failed-fills"]
    assert failed == blob_fetches(sim, blob) >= 2  # every attempt was a fresh fill
    assert_not_cached(proxy, blob)

    sim.clear_faults()
    result = snap_download(proxy.url, blob.name, cwd=tmp_path / "fixed")
    assert result.fetched_snap and result.sha3_384 == blob.sha3_384, result.describe()
    assert_cache_consistent(proxy)


# -- a fill owner killed mid-fill ---------------------------------------------------------------


@pytest.mark.split
def test_downloads_process_killed_mid_fill(
    split_cache: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    topology = split_cache.topology
    assert topology is not None
    blob = new_snap(6 * MIB)
    sim.set_faults(bandwidth_bps=1 * MIB)
    owner = f"http://127.0.0.1:{topology.ports['downloads'][0]}"  # replica 0, not nginx
    results: list[Fetched] = []

    def download() -> None:
        with split_cache.client() as client:
            client.base_url = owner
            results.append(fetch(client, blob.url_path))

    thread = threading.Thread(target=download)
    thread.start()
    filled = wait_for(
        lambda: [p for p in split_cache.partial_files() if p.stat().st_size >= blob.size * 0.4]
    )
    assert filled, "the fill never reached 40%"
    topology.stop_service("downloads", 0, kill=True)
    thread.join(30)
    assert_clear_failure(results[0], blob)
    assert blob.sha3_384 not in split_cache.blob_files()
    assert split_cache.entries(blob.name) == []

    # At once, through nginx (so the surviving replica): the dead owner's advisory lock went
    # with its process, so this request takes the fill over and gets the whole blob.
    sim.set_faults(bandwidth_bps=8 * MIB)
    before = blob_fetches(sim, blob)
    with split_cache.client() as client:
        right_after = fetch(client, blob.url_path)
    assert right_after.complete and right_after.body == blob.content(), right_after.error
    assert blob_fetches(sim, blob) == before + 1

    topology.start_service("downloads", 0)
    with split_cache.client() as client:
        got = fetch(client, blob.url_path)  # a hit
    assert got.complete and got.body == blob.content(), got.error
    assert blob_fetches(sim, blob) == before + 1
    assert [e["sha3-384"] for e in split_cache.entries(blob.name)] == [blob.sha3_384]
    assert_cache_consistent(split_cache)


# -- a full disk ----------------------------------------------------------------------------------


def test_disk_full_mid_fill(
    dedicated_embedded: Callable[..., ProxyUnderTest],
    sim: SimHandle,
    new_snap: Callable[[int], Blob],
    tmp_path: Path,
) -> None:
    """The cache's volume fills up mid-fill (ENOSPC: something else wrote to it): the fill
    fails cleanly, the client is told it was the proxy's disk (not the upstream), nothing
    is cached, and once there is room again the next request fetches afresh."""
    data_dir = tmp_path / "data"
    with tmpfs(data_dir / "cache", "20m") as volume:
        proxy = dedicated_embedded(data_dir, SNAPPROXY_CACHE_MIN_FREE="0")
        blob = new_snap(12 * MIB)
        sim.set_faults(bandwidth_bps=2 * MIB)
        results: list[Fetched] = []

        def download() -> None:
            with proxy.client() as client:
                results.append(fetch(client, blob.url_path))

        thread = threading.Thread(target=download)
        thread.start()
        assert wait_for(lambda: any(p.stat().st_size for p in proxy.partial_files()))
        hog = volume / "hog"
        subprocess.run(["dd", "if=/dev/zero", f"of={hog}", "bs=1M", "count=20"], check=False)
        thread.join(60)
        assert_clear_failure(results[0], blob)
        assert_not_cached(proxy, blob)
        assert proxy.snap_stats(blob.name)["failed-fills"] == 1
        log = proxy.log()
        assert "its cache volume is full" in log and "No space left on device" in log

        hog.unlink()
        sim.clear_faults()
        assert_fetched_afresh(proxy, sim, blob, blob_fetches(sim, blob))
        assert proxy.embedded is not None
        proxy.embedded.stop()  # before the tmpfs goes
