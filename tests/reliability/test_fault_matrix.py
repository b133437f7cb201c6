"""The fault matrix (issue 15's acceptance): the split topology under load, one fault at a time.

Two downloads replicas behind nginx, PostgreSQL, memcached, the cache on a 48 MiB volume, the
simulator upstream. Fifty well-behaved clients run info, refresh and cached downloads (each
download checked against its SHA3-384) for the whole test, while each fault is applied once:

1. the proxy's database connections are terminated (three times);
2. memcached is killed, then restarted on its port;
3. the upstream is down for 15 s;
4. SIGTERM of a downloads replica in the middle of a fill;
5. kill -9 of one of the two downloads replicas in the middle of a fill;
6. a client that hangs up in the middle of a miss;
7. a blob bigger than the cache's disk.

It asserts: no wrong bytes, no corrupt or partial cache entry, no 500, no response cut that
could have been served (only the clients of the replica killed with -9 may be cut), and at
most one complete upstream fetch per blob (plus one partial fetch for the killed owner). It
prints each fault's figures and the time the suite took to answer again after the fault was
lifted; docs/reliability.md holds a run's table.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from shared import migrate
from shared.settings import Settings
from shared.split import SplitTopology, free_port
from tests.support.cache import (
    MIB,
    Blob,
    assert_cache_consistent,
    blob_bytes_sent,
    blob_fetches,
    publish,
    tmpfs,
    wait_for,
)
from tests.support.device_api import REFRESH, install, refresh_body
from tests.support.infra import Memcached, fresh_database, proxy_env, terminate_connections
from tests.support.load import DeviceLoad, Download, Outcome, fetch_checked
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS, ProxyUnderTest
from tests.support.sim import SimHandle

pytestmark = [pytest.mark.split, pytest.mark.faults]
SNAPS = ("hello-sim", "tiny-tool", "mid-app")
SETTINGS = {
    "SNAPPROXY_ADMIN_TOKEN": ADMIN_TOKEN,
    "SNAPPROXY_INFO_TTL": "2",  # so the upstream outage is answered from the last good answer
    "SNAPPROXY_FILL_LEASE_TIMEOUT": "3",
    "SNAPPROXY_BLOB_READ_TIMEOUT": "2",
    "SNAPPROXY_COUNTER_FLUSH_INTERVAL": "0.5",
    "SNAPPROXY_LOG_LEVEL": "info",
}


@dataclass
class Stack:
    topology: SplitTopology
    memcached: Memcached
    database_url: str
    proxy: ProxyUnderTest

    def replica(self, index: int) -> str:
        return f"http://127.0.0.1:{self.topology.ports['downloads'][index]}"


@dataclass
class Phase:
    name: str
    started: float
    lifted: float
    recovered: float
    notes: str = ""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("fault-matrix")
    memcached = Memcached(port=free_port())
    memcached.start()
    try:
        with (
            fresh_database(prefix="snapproxy_faults") as url,
            tmpfs(base / "data" / "cache", "48m"),
        ):
            migrate.upgrade(Settings(database_url=url))
            env = proxy_env(
                SNAPPROXY_DATABASE_URL=url,
                SNAPPROXY_MEMCACHED=memcached.address,
                SNAPPROXY_DATA_DIR=str(base / "data"),
                **upstream.proxy_env(),
                **SETTINGS,
            )
            topology = SplitTopology(base / "run", extra_env=env, replicas={"downloads": 2})
            try:
                topology.start()
                proxy = ProxyUnderTest(
                    "split",
                    topology.gateway_url,
                    base / "data",
                    topology=topology,
                    counter_flush=float(SETTINGS["SNAPPROXY_COUNTER_FLUSH_INTERVAL"]),
                )
                yield Stack(topology, memcached, url, proxy)
            finally:
                topology.stop()
    finally:
        memcached.stop()


def answering(stack: Stack, hit: Blob) -> bool:
    """Info, refresh and a cached download all answer right."""
    with httpx.Client(base_url=stack.proxy.url, timeout=10, headers=DEVICE_HEADERS) as client:
        try:
            info = client.get(f"/v2/snaps/info/{SNAPS[0]}")
            refresh = client.post(REFRESH, json=refresh_body([install(SNAPS[0], "install-1")]))
        except httpx.HTTPError:
            return False
        download = fetch_checked(client, hit.url_path, hit.sha3_384, "probe")
    return info.status_code == 200 and refresh.status_code == 200 and download.ok


def downloads_from(
    url: str, blob: Blob, into: list[Outcome], stop_after: int = 0
) -> threading.Thread:
    def run() -> None:
        with httpx.Client(base_url=url, timeout=60, headers=DEVICE_HEADERS) as client:
            if not stop_after:
                into.append(fetch_checked(client, blob.url_path, blob.sha3_384, blob.name))
                return
            with client.stream("GET", blob.url_path) as response:
                got = 0
                for chunk in response.iter_raw():
                    got += len(chunk)
                    if got >= stop_after:
                        return  # hang up mid-miss

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def filled(stack: Stack, blob: Blob, share: float) -> bool:
    return bool(
        wait_for(
            lambda: any(p.stat().st_size >= blob.size * share for p in stack.proxy.partial_files()),
            30,
        )
    )


def test_fault_matrix(stack: Stack, sim: SimHandle, capsys: pytest.CaptureFixture[str]) -> None:
    hits = [publish(sim, 1 * MIB, "matrix-hit") for _ in range(3)]
    for blob in hits:
        assert answering(stack, blob) or answering(stack, blob)  # warm: fill, info, refresh
    load = DeviceLoad(
        stack.proxy.url, SNAPS, [Download(b.url_path, b.sha3_384) for b in hits], clients=50
    )
    phases: list[Phase] = []
    special: dict[str, list[Outcome]] = {}
    blobs: dict[str, Blob] = {}

    def run_phase(name: str, fault: Callable[[], str]) -> None:
        started = time.monotonic()
        notes = fault()
        lifted = time.monotonic()
        assert wait_for(lambda: answering(stack, hits[0]), 60, 0.2), f"{name}: no recovery"
        phases.append(Phase(name, started, lifted, time.monotonic(), notes))
        time.sleep(1)

    def database() -> str:
        for _ in range(3):
            terminate_connections(stack.database_url)
            time.sleep(2)
        return "3 x pg_terminate_backend"

    def memcached() -> str:
        stack.memcached.stop()
        time.sleep(5)
        stack.memcached.start()
        return "down 5 s"

    def upstream() -> str:
        sim.stop()
        time.sleep(15)
        sim.start()
        return "down 15 s"

    def sigterm() -> str:
        blob = blobs["sigterm"] = publish(sim, 4 * MIB, "matrix-sigterm")
        sim.update_faults(bandwidth_bps=1 * MIB)
        got = special["sigterm"] = []
        threads = [downloads_from(stack.proxy.url, blob, got) for _ in range(6)]
        assert filled(stack, blob, 0.1)
        process = stack.topology.processes["downloads"][0]
        process.terminate()
        process.wait(30)
        for thread in threads:
            thread.join(60)
        sim.update_faults(bandwidth_bps=None)
        stack.topology.start_service("downloads", 0)
        return "replica 0 stopped mid-fill, restarted"

    def kill() -> str:
        blob = blobs["kill"] = publish(sim, 6 * MIB, "matrix-kill")
        sim.update_faults(bandwidth_bps=1 * MIB)
        owner: list[Outcome] = []
        got = special["kill"] = []
        threads = [downloads_from(stack.replica(0), blob, owner)]
        assert filled(stack, blob, 0.05)
        threads += [downloads_from(stack.replica(1), blob, got) for _ in range(3)]
        assert filled(stack, blob, 0.3)
        stack.topology.stop_service("downloads", 0, kill=True)
        for thread in threads:
            thread.join(60)
        sim.update_faults(bandwidth_bps=None)
        stack.topology.start_service("downloads", 0)
        return f"owner killed at 30%; its own client {'cut' if not owner[0].ok else 'done'}"

    def leaver() -> str:
        blob = blobs["leaver"] = publish(sim, 4 * MIB, "matrix-leaver")
        sim.update_faults(bandwidth_bps=2 * MIB)
        downloads_from(stack.proxy.url, blob, [], stop_after=blob.size * 3 // 10).join(60)
        assert wait_for(lambda: blob.sha3_384 in stack.proxy.blob_files(), 30)
        sim.update_faults(bandwidth_bps=None)
        got = special["leaver"] = []
        downloads_from(stack.proxy.url, blob, got).join(60)
        return "hung up at 30%; the fill went on"

    def disk() -> str:
        blob = blobs["too-big"] = publish(sim, 64 * MIB, "matrix-too-big")
        got = special["too-big"] = []
        for thread in [downloads_from(stack.proxy.url, blob, got) for _ in range(2)]:
            thread.join(120)
        return "64 MiB blob, 48 MiB volume: streamed through"

    load.start()
    try:
        for name, fault in (
            ("database connections terminated", database),
            ("memcached killed and restarted", memcached),
            ("upstream down", upstream),
            ("SIGTERM of downloads mid-fill", sigterm),
            ("kill -9 of one of two replicas mid-fill", kill),
            ("client leaves mid-miss", leaver),
            ("disk too small for the blob", disk),
        ):
            run_phase(name, fault)
    finally:
        outcomes = load.stop()

    report = table(phases, load)
    with capsys.disabled():
        print("\n" + report)

    assert [
        o for o in outcomes if o.status is not None and o.status >= 500 and o.status != 503
    ] == []
    assert [o for o in outcomes if not o.right] == []
    assert [o for o in outcomes if not o.complete] == []
    assert all(o.retry_after for o in outcomes if o.status == 503)
    for name, got in special.items():
        assert got and all(o.ok for o in got), (name, got)
    for name in ("sigterm", "leaver", "too-big"):
        assert blob_fetches(sim, blobs[name]) == (2 if name == "too-big" else 1), name
    killed = blobs["kill"]
    assert blob_fetches(sim, killed) <= 2 and blob_bytes_sent(sim, killed) < 2 * killed.size
    assert blobs["too-big"].sha3_384 not in stack.proxy.blob_files()
    assert {b.sha3_384 for b in hits} <= set(stack.proxy.blob_files())
    assert_cache_consistent(stack.proxy)


def table(phases: list[Phase], load: DeviceLoad) -> str:
    rows = [
        "| fault | fault on (s) | requests | answered | 503 (Retry-After) | 500 | cut | "
        "wrong bytes | answering again after (s) | notes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in phases:
        seen = load.between(phase.started, phase.recovered)
        rows.append(
            f"| {phase.name} | {phase.lifted - phase.started:.1f} | {len(seen)} | "
            f"{sum(o.ok for o in seen)} | {sum(o.status == 503 for o in seen)} | "
            f"{sum(o.status == 500 for o in seen)} | {sum(not o.complete for o in seen)} | "
            f"{sum(not o.right for o in seen)} | {phase.recovered - phase.lifted:.1f} | "
            f"{phase.notes} |"
        )
    return "\n".join(rows)
