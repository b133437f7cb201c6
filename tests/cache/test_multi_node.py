"""Single flight across nodes (issue 13, section 3): three downloads "nodes" (processes with
their own data directories and ports, sharing no disk) share PostgreSQL, memcached and the
S3 store (SeaweedFS), behind one nginx. A cold blob asked for on every node at once crosses
from the upstream once: the node that wins the lease fills it, the others stream the growing
blob from that node's internal endpoint. Judged by the real ``snap download``.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.cache import (
    MIB,
    Blob,
    blob_bytes_sent,
    blob_fetches,
    publish,
    running_fast_nodes,
    wait_for,
)
from tests.support.proxies import ProxyUnderTest
from tests.support.s3 import ObjectStore, running_object_store
from tests.support.sim import SimHandle
from tests.support.snapclient import SnapDownloadResult, snap_download

pytestmark = [pytest.mark.split, pytest.mark.realclient]
NODES = 3
CLIENTS = 30


@pytest.fixture(scope="module")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    with running_object_store(tmp_path_factory.mktemp("s3")) as store:
        yield store


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory, cache_upstream: SimHandle, object_store: ObjectStore
) -> Iterator[ProxyUnderTest]:
    env = {**object_store.proxy_env(), "SNAPPROXY_STORAGE_S3_PREFIX": "nodes/"}
    base = tmp_path_factory.mktemp("nodes")
    with running_fast_nodes(base, cache_upstream, NODES, **env) as proxy:
        yield proxy


def node_logs(proxy: ProxyUnderTest) -> list[str]:
    assert proxy.topology is not None
    return [
        (proxy.topology.workdir / f"downloads-{node}.log").read_text(errors="replace")
        for node in range(NODES)
    ]


def partial_files(proxy: ProxyUnderTest) -> list[Path]:
    """Partial files (fills and copies of other nodes' fills) on every node's disk."""
    assert proxy.topology is not None
    found: list[Path] = []
    for node in range(NODES):
        found += (proxy.topology.node_data_dir(node) / "cache" / "partial").glob("*.part")
    return found


def wave(proxy: ProxyUnderTest, blob: Blob, base: Path) -> list[SnapDownloadResult]:
    def one(index: int) -> SnapDownloadResult:
        return snap_download(proxy.url, blob.name, cwd=base / f"client-{index}", timeout=240)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, range(CLIENTS)))


def assert_right_bytes(results: list[SnapDownloadResult], blob: Blob) -> None:
    reference = blob.content()
    for result in results:
        assert result.snap_path is not None, result.describe()
        assert result.sha3_384 == blob.sha3_384, result.describe()
        assert result.snap_path.read_bytes() == reference


def objects_for(store: ObjectStore, blob: Blob) -> list[str]:
    return [key for key in store.objects() if key.startswith("nodes/") and blob.sha3_384 in key]


def fill_owner_node(proxy: ProxyUnderTest, blob: Blob) -> int | None:
    """Which node holds the blob's fill lease (its node URL names its port)."""
    assert proxy.topology is not None
    url = proxy.topology.env["SNAPPROXY_DATABASE_URL"].replace("+asyncpg", "")
    found = subprocess.run(
        [
            "psql",
            url,
            "-Atc",
            f"SELECT node_url FROM snapdownloads.cache_fills WHERE sha3_384 = '{blob.sha3_384}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    for node, port in enumerate(proxy.topology.ports["downloads"]):
        if found == f"http://127.0.0.1:{port}":
            return node
    return None


def test_thirty_clients_on_three_nodes_one_upstream_fetch(
    nodes: ProxyUnderTest, sim: SimHandle, object_store: ObjectStore, tmp_path: Path
) -> None:
    blob = publish(sim, 6 * MIB)
    sim.set_faults(bandwidth_bps=2 * MIB)  # about 3 s: the clients overlap the fill
    before = [log.count("/_internal/v1/fills/") for log in node_logs(nodes)]

    cold = wave(nodes, blob, tmp_path / "cold")
    assert_right_bytes(cold, blob)
    assert blob_fetches(sim, blob) == 1
    assert blob_bytes_sent(sim, blob) == blob.size
    logs = node_logs(nodes)
    served = [log.count(f"path={blob.url_path} ") for log in logs]
    assert all(served), f"every node served some of the wave: {served}"
    streamed = [log.count("/_internal/v1/fills/") - b for log, b in zip(logs, before, strict=True)]
    assert sum(streamed) >= 1, "other nodes streamed the fill from its owner"
    assert objects_for(object_store, blob) == [f"nodes/blobs/{blob.sha3_384}.snap"]
    assert wait_for(lambda: not partial_files(nodes), 15), partial_files(nodes)

    sim.reset()
    warm = wave(nodes, blob, tmp_path / "warm")
    assert_right_bytes(warm, blob)
    assert blob_fetches(sim, blob) == 0


def test_the_owner_killed_mid_fill_another_node_takes_over(
    nodes: ProxyUnderTest, sim: SimHandle, object_store: ObjectStore, tmp_path: Path
) -> None:
    assert nodes.topology is not None
    blob = publish(sim, 8 * MIB)
    sim.set_faults(bandwidth_bps=1 * MIB)  # about 8 s
    results: list[SnapDownloadResult] = []
    owner: int | None = None
    clients = threading.Thread(target=lambda: results.extend(wave(nodes, blob, tmp_path)))
    clients.start()
    try:
        found = wait_for(lambda: [n for n in [fill_owner_node(nodes, blob)] if n is not None], 60)
        assert found, "a node took the fill's lease"
        [owner] = found
        assert wait_for(lambda: blob_bytes_sent(sim, blob) > 2 * MIB, 60, 0.1)
        nodes.topology.stop_service("downloads", owner, kill=True)  # kill -9, mid-fill
        sim.set_faults(bandwidth_bps=4 * MIB)
    finally:
        clients.join(300)
        if nodes.topology.processes["downloads"][owner or 0].poll() is not None:
            nodes.topology.start_service("downloads", owner or 0)
    assert len(results) == CLIENTS
    assert_right_bytes(results, blob)
    # The dead owner's fetch was cut short; at most one complete fetch was committed.
    assert 2 <= blob_fetches(sim, blob) <= 3
    assert blob_bytes_sent(sim, blob) < 2 * blob.size
    assert objects_for(object_store, blob) == [f"nodes/blobs/{blob.sha3_384}.snap"]
    sim.reset()
    again = wave(nodes, blob, tmp_path / "again")
    assert_right_bytes(again, blob)
    assert blob_fetches(sim, blob) == 0
