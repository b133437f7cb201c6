"""Zero-downtime rolling restarts (issue 13, section 5).

The split topology with two replicas of every service behind nginx, PostgreSQL, memcached and
the simulator upstream. Fifty well-behaved clients run info, refresh and cached downloads
(each checked against its SHA3-384) while every replica of every service is restarted, one at
a time: SIGTERM, wait for it to exit, start it again, wait until it answers. No client
request may fail: no error status, no broken connection, no wrong byte.

A stopping service drains first (``services.shutdown-delay``): its ``/_status/check``
answers 503 ``draining`` while it still serves, then it stops accepting and finishes what is
open. nginx sends a request that found a replica gone to the other one.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.settings import SERVICE_NAMES
from shared.split import SplitTopology
from tests.support.cache import MIB, publish, wait_for
from tests.support.infra import running_split
from tests.support.load import DeviceLoad, Download
from tests.support.proxies import ADMIN_TOKEN
from tests.support.sim import SimHandle

pytestmark = [pytest.mark.split, pytest.mark.faults]
SNAPS = ("hello-sim", "tiny-tool", "mid-app")
DRAIN = 1.0  # seconds: services.shutdown-delay


@pytest.fixture(scope="module")
def topology(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[SplitTopology]:
    base: Path = tmp_path_factory.mktemp("rolling")
    settings = upstream.proxy_env() | {
        "SNAPPROXY_ADMIN_TOKEN": ADMIN_TOKEN,
        "SNAPPROXY_SHUTDOWN_DELAY": str(DRAIN),
        "SNAPPROXY_LOG_LEVEL": "info",
    }
    with running_split(
        base / "run", base / "data", settings, replicas=dict.fromkeys(SERVICE_NAMES, 2)
    ) as split:
        yield split


def check_status(url: str) -> tuple[int, str]:
    answer = httpx.get(f"{url}/_status/check", timeout=5)
    return answer.status_code, str(answer.json().get("status"))


def test_sigterm_drains_before_it_stops_accepting(topology: SplitTopology) -> None:
    port = topology.ports["revisions"][1]
    url = f"http://127.0.0.1:{port}"
    assert check_status(url) == (200, "ok")
    process = topology.processes["revisions"][1]
    process.terminate()
    try:
        # Still serving, but not ready: a load balancer that follows readiness stops here.
        assert check_status(url) == (503, "draining")
        assert httpx.get(f"{url}/_status/ping", timeout=5).status_code == 200
        process.wait(30)
        # uvicorn, once shut down, re-raises the signal it caught: -SIGTERM is a clean stop.
        assert process.returncode in (0, -signal.SIGTERM)
    finally:
        topology.start_service("revisions", 1)
    assert check_status(url) == (200, "ok")


@pytest.mark.timeout(600)  # ten restarts, each waiting for a fresh interpreter to answer
def test_every_service_restarted_one_replica_at_a_time_no_request_fails(
    topology: SplitTopology, sim: SimHandle
) -> None:
    blobs = [publish(sim, 1 * MIB, "rolling") for _ in range(3)]
    gateway = topology.gateway_url
    with httpx.Client(base_url=gateway, timeout=30) as client:
        for blob in blobs:  # cached before the load starts
            assert client.get(blob.url_path).status_code == 200
    load = DeviceLoad(gateway, SNAPS, [Download(b.url_path, b.sha3_384) for b in blobs], clients=50)
    load.start()
    restarted = []
    try:
        time.sleep(2)
        for name in SERVICE_NAMES:
            for replica in range(2):
                topology.stop_service(name, replica)  # SIGTERM; waits for the exit
                topology.start_service(name, replica)  # waits until it answers
                restarted.append(f"{name}-{replica}")
        time.sleep(2)
    finally:
        outcomes = load.stop()
    assert len(restarted) == 2 * len(SERVICE_NAMES)
    kinds = Counter(o.kind for o in outcomes)
    assert all(kinds[kind] > 50 for kind in ("info", "refresh", "download")), kinds
    failed = [o for o in outcomes if not o.ok]
    assert failed == [], f"{len(failed)} of {len(outcomes)} requests failed: {failed[:5]}"
    assert wait_for(lambda: all(p.poll() is None for ps in topology.processes.values() for p in ps))
