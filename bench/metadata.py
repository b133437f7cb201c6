"""Metadata benchmark: info and refresh through the proxy (warm cache) versus the store itself.

    .venv/bin/python bench/metadata.py            # embedded proxy vs the simulator
    .venv/bin/python bench/metadata.py --split    # also the split topology (PostgreSQL,
                                                  # memcached and nginx must be present)

It starts its own store simulator (tests/support/sim.py) and its own ``snap-proxy serve`` on
free ports with a temporary data directory, warms the proxy's cache, then for each workload,
target and concurrency level (1, 16, 64) sends at most ``--requests`` requests or for at most
``--seconds`` seconds, and prints requests/s and p50/p99 latency. Everything (load generator,
proxy, simulator) shares the machine: read the figures relative to each other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared.split import free_port, wait_http_ok  # noqa: E402
from tests.support.infra import proxy_env  # noqa: E402
from tests.support.sim import SimHandle, start_simulator  # noqa: E402

SNAP_PROXY = [sys.executable, "-m", "shared.cli"]
DEVICE_HEADERS = {
    "Snap-Device-Architecture": "amd64",
    "Snap-Device-Series": "16",
    "Snap-Classic": "true",
    "Snap-Device-Capabilities": "default-tracks",
    "User-Agent": "snapd/2.57.6 (series 16; classic) debian/12 (amd64) linux/6.1 bench",
}
# What `snap info` asks for (all storeSnap fields but snap-yaml, plus the channel map).
INFO_FIELDS = (
    "architectures,base,confinement,contact,created-at,description,download,epoch,license,"
    "name,prices,private,publisher,revision,snap-id,summary,title,type,version,website,"
    "store-url,media,common-ids,channel-map"
)
REFRESH_FIELDS = [*INFO_FIELDS.split(",")[:-1], "snap-yaml"]
INFO_SNAPS = ("hello-sim", "tiny-tool", "mid-app", "big-app")
REFRESH_SNAPS = ("hello-sim", "tiny-tool", "mid-app")
LEVELS = (1, 16, 64)
STORE = "store (sim)"


# -- the processes under test ---------------------------------------------------------------


@dataclass
class Target:
    """A server under test: where it listens and the processes whose CPU time it uses."""

    url: str
    name: str
    pids: list[int]

    def cpu_seconds(self) -> float:
        """User plus system CPU time of the processes and all their children so far."""
        total = 0.0
        for pid in self.pids:
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                for each in [process, *process.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        times = each.cpu_times()
                        total += times.user + times.system
        return total


@contextlib.contextmanager
def embedded_proxy(
    work: Path, upstream: SimHandle, log_level: str, server: str
) -> Iterator[Target]:
    port = free_port()
    env = proxy_env(
        SNAPPROXY_DATA_DIR=str(work / "embedded"),
        SNAPPROXY_PORT=str(port),
        SNAPPROXY_INFO_TTL="3600",  # the cache stays warm for the whole run
        SNAPPROXY_LOG_LEVEL=log_level,
        **upstream.proxy_env(),
    )
    (work / "embedded").mkdir()
    subprocess.run([*SNAP_PROXY, "db", "upgrade"], env=env, check=True, capture_output=True)
    log = (work / "embedded.log").open("ab")
    command = [*SNAP_PROXY, "serve", "--server", server]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        if not wait_http_ok(f"{url}/_status/ping", 30, process):
            raise SystemExit(f"snap-proxy serve did not start; see {work / 'embedded.log'}")
        yield Target(url, "proxy embedded", [process.pid])
    finally:
        process.terminate()
        process.wait(15)
        log.close()


@contextlib.contextmanager
def split_proxy(work: Path, upstream: SimHandle, log_level: str) -> Iterator[Target]:
    from tests.support.infra import running_split

    with running_split(
        work / "split",
        work / "split-data",
        db_prefix="snapproxy_bench",
        SNAPPROXY_INFO_TTL="3600",
        SNAPPROXY_LOG_LEVEL=log_level,
        **upstream.proxy_env(),
    ) as topology:
        pids = [p.pid for group in topology.processes.values() for p in group]
        pids += [topology.nginx.pid] if topology.nginx else []
        yield Target(topology.gateway_url, "proxy split", pids)


def split_missing() -> str | None:
    """Why the split topology cannot run here, or None."""
    for tool in ("nginx", "memcached"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed"
    try:
        from tests.support.infra import PG_ADMIN_DSN, _admin

        asyncio.run(_admin("SELECT 1", PG_ADMIN_DSN))
    except Exception as exc:
        return f"PostgreSQL is not reachable ({type(exc).__name__})"
    return None


# -- the workloads --------------------------------------------------------------------------


Request = tuple[str, str, dict[str, Any], bytes | None]  # method, path, query, body


@dataclass
class Workload:
    name: str
    requests: list[Request]


def workloads(sim: SimHandle) -> list[Workload]:
    ids = {snap["name"]: snap["snap-id"] for snap in sim.catalogue()["snaps"]}
    info: list[Request] = [
        ("GET", f"/v2/snaps/info/{name}", {"fields": INFO_FIELDS, "architecture": "amd64"}, None)
        for name in INFO_SNAPS
    ]
    # An auto-refresh of three installed snaps: a context entry and a refresh action each.
    body = {
        "context": [
            {
                "snap-id": ids[name],
                "instance-key": ids[name],
                "revision": 1,
                "tracking-channel": "latest/stable",
                "epoch": {"read": [0], "write": [0]},
                "refreshed-date": "2024-05-01T12:00:00.000000000Z",
            }
            for name in REFRESH_SNAPS
        ],
        "actions": [
            {"action": "refresh", "instance-key": ids[name], "snap-id": ids[name]}
            for name in REFRESH_SNAPS
        ],
        "fields": REFRESH_FIELDS,
    }
    refresh: list[Request] = [("POST", "/v2/snaps/refresh", {}, json.dumps(body).encode())]
    return [Workload("info", info), Workload("refresh", refresh)]


@dataclass
class Result:
    workload: str
    target: str
    concurrency: int
    cpu: float = 0.0  # CPU seconds the target's processes used during the level
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    cache_hits: int = 0
    elapsed: float = 0.0

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per answered request: robust to a busy machine, unlike req/s."""
        return self.cpu * 1000 / len(self.latencies) if self.latencies else float("nan")

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def run_level(
    target: Target, workload: Workload, concurrency: int, max_requests: int, max_seconds: float
) -> Result:
    result = Result(workload.name, target.name, concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {**DEVICE_HEADERS, "Content-Type": "application/json"}
    async with httpx.AsyncClient(
        base_url=target.url, limits=limits, headers=headers, timeout=30
    ) as client:
        for method, path, params, body in workload.requests:  # open connections, warm caches
            (await client.request(method, path, params=params, content=body)).raise_for_status()
        issued = 0
        deadline = time.perf_counter() + max_seconds

        async def worker() -> None:
            nonlocal issued
            while issued < max_requests and time.perf_counter() < deadline:
                method, path, params, body = workload.requests[issued % len(workload.requests)]
                issued += 1
                started = time.perf_counter()
                try:
                    response = await client.request(method, path, params=params, content=body)
                    ok = response.status_code == 200
                    result.cache_hits += response.headers.get("x-snapproxy-cache") == "hit"
                except httpx.HTTPError:
                    ok = False
                if ok:
                    result.latencies.append(time.perf_counter() - started)
                else:
                    result.errors += 1

        cpu_before, started = target.cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.elapsed = time.perf_counter() - started
        result.cpu = target.cpu_seconds() - cpu_before
    return result


def print_table(results: list[Result]) -> None:
    header = f"{'workload':<9} {'target':<14} {'conc':>4} {'requests':>8} {'req/s':>8} "
    header += f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'hits':>5} {'cpu ms/req':>10} "
    header += f"{'req/s vs store':>14}"
    print(header)
    print("-" * len(header))
    baseline = {(r.workload, r.concurrency): r.rps for r in results if r.target == STORE}
    for r in results:
        base = baseline.get((r.workload, r.concurrency))
        ratio = r.rps / base if base else float("nan")
        hits = f"{r.cache_hits / len(r.latencies):.0%}" if r.latencies else "-"
        print(
            f"{r.workload:<9} {r.target:<14} {r.concurrency:>4} {len(r.latencies):>8} "
            f"{r.rps:>8.0f} {r.percentile(50):>8.1f} {r.percentile(99):>8.1f} {r.errors:>6} "
            f"{hits:>5} {r.cpu_ms:>10.2f} {ratio:>13.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", action="store_true", help="also the split topology")
    parser.add_argument("--requests", type=int, default=2000, help="at most, per level")
    parser.add_argument("--seconds", type=float, default=10.0, help="at most, per level")
    parser.add_argument(
        "--levels", default=",".join(map(str, LEVELS)), help="concurrency levels, e.g. 1,16,64"
    )
    parser.add_argument("--workloads", default="info,refresh", help="info, refresh or both")
    parser.add_argument(
        "--log-level", default="info", help="the proxy's SNAPPROXY_LOG_LEVEL (default: info)"
    )
    parser.add_argument(
        "--server", default="uvicorn", help="the ASGI server of `snap-proxy serve` (uvicorn)"
    )
    args = parser.parse_args()
    levels = [int(level) for level in args.levels.split(",")]
    wanted = set(args.workloads.split(","))

    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="snapproxy-bench-")))
        sim = start_simulator(work / "sim", demo=True)
        stack.callback(sim.stop)
        assert sim.process is not None
        targets = [Target(sim.api_url, STORE, [sim.process.pid])]
        targets.append(stack.enter_context(embedded_proxy(work, sim, args.log_level, args.server)))
        if args.split:
            missing = split_missing()
            if missing:
                print(f"split topology skipped: {missing}")
            else:
                targets.append(stack.enter_context(split_proxy(work, sim, args.log_level)))
        print(
            f"{os.cpu_count()} CPUs; at most {args.requests} requests or {args.seconds:.0f} s "
            f"per level; proxy log level {args.log_level}; embedded on {args.server}\n"
        )
        results = []
        for workload in workloads(sim):
            if workload.name not in wanted:
                continue
            for concurrency in levels:
                for target in targets:
                    result = asyncio.run(
                        run_level(target, workload, concurrency, args.requests, args.seconds)
                    )
                    results.append(result)
        print_table(results)


if __name__ == "__main__":
    main()
