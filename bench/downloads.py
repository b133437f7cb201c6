"""Download cache benchmark: hits, cold misses, time to first byte and memory, in one run.

    .venv/bin/python bench/downloads.py            # about four minutes on 2 cores
    .venv/bin/python bench/downloads.py --quick    # smaller files, about a minute

It starts everything itself on loopback, with a temporary work directory: the store
simulator (``snap-store-sim``, with ``add-snap`` for the test files), a fresh PostgreSQL
database on 127.0.0.1:5432 (tests/support/infra.py) and a memcached for the split topology
(one process per service behind nginx, hits sent by nginx through X-Accel-Redirect), the
embedded default (``snap-proxy serve``, uvicorn with ``sendfile``) and the same on granian
(``--server granian``), and a plain nginx that serves the split topology's cache folder
straight from disk as the yardstick.

(a) hit throughput: one client, then four at once, reading the same cached snap from
    nginx straight from disk, the split gateway, the embedded default (and granian), and
    granian alone serving the file from a bare five-line app (granian's own ceiling);
    goals: gateway >= 0.9x nginx, embedded >= 0.8x nginx, and a hit's first
    byte (on a fresh connection, after the other targets' turns) within 2 ms in both.
(b) cold miss with 1, 10 and 50 concurrent clients against a bandwidth-capped simulator:
    wall time versus one direct download from the simulator (goal <= 1.2x) and the bytes
    the simulator sent (goal: exactly the snap's size, from /_sim/stats).
(c) time to first byte of a cold miss, versus the simulator's own (the same redirect).
(d) peak RSS of the downloads service process (psutil, children included) while 50
    clients fetch a 256 MiB snap on a cold cache (goal < 150 MiB); the embedded process
    (the whole suite) is measured too.

The load generator, the proxies and the simulator share the machine's cores: the clients
are plain sockets reading into one buffer per client, so they cost as little as they can.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from shared.split import free_port, wait_http_ok  # noqa: E402
from tests.support.infra import proxy_env, running_split  # noqa: E402
from tests.support.sim import SimHandle, start_simulator  # noqa: E402

MIB = 1024 * 1024
SNAP_PROXY = [sys.executable, "-m", "shared.cli"]
ADMIN_TOKEN = "bench-admin-token"
HIT_GOAL, EMBEDDED_GOAL, MISS_GOAL, MEMORY_GOAL = 0.9, 0.8, 1.2, 150 * MIB
HIT_TTFB_GOAL = 0.002  # seconds to a hit's first byte, gateway and embedded


@dataclass(frozen=True)
class Plan:
    """Sizes and counts for one run."""

    big: int  # the snap of (a) and (d)
    miss: int  # the snap of (b) and (c)
    bandwidth: int  # the simulator's per-connection cap in (b) and (c), bytes/s
    levels: tuple[int, ...]
    memory_clients: int
    hit_repeats: int
    ttfb_samples: int


FULL = Plan(256 * MIB, 48 * MIB, 12 * MIB, (1, 10, 50), 50, 9, 3)
# A 32 MiB hit lasts some 15 ms here, a few times a cold process's first-byte jitter: the
# quick plan takes three times the full plan's rounds of (a) for a steady median.
QUICK = Plan(32 * MIB, 8 * MIB, 4 * MIB, (1, 10, 50), 50, 15, 3)


# -- a lean HTTP/1.1 client -------------------------------------------------------------------


@dataclass
class Got:
    status: int
    length: int
    received: int
    ttfb: float  # seconds from sending the request to the first body byte
    seconds: float  # to the last body byte
    sha3_384: str | None = None

    @property
    def complete(self) -> bool:
        return self.status in (200, 206) and self.received == self.length


def http_get(url: str, *, hash_body: bool = False, headers: dict[str, str] | None = None) -> Got:
    """GET ``url`` (following redirects) on a fresh connection; the body is counted (and
    hashed when asked), never kept."""
    started = time.perf_counter()
    for _ in range(5):
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: snapproxy-bench\r\n"
            f"Connection: close\r\n{extra}\r\n"
        )
        with socket.create_connection((host, port), timeout=300) as sock:
            sock.sendall(request.encode())
            head = bytearray()
            while b"\r\n\r\n" not in head:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError(f"{url}: closed before the headers")
                head += chunk
            end = head.index(b"\r\n\r\n") + 4
            lines = head[:end].decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name:
                    fields[name.strip().lower()] = value.strip()
            if status in (301, 302, 303, 307, 308):
                url = httpx.URL(url).join(fields["location"]).__str__()
                continue
            length = int(fields.get("content-length", "-1"))
            hasher = hashlib.sha3_384() if hash_body else None
            body = bytes(head[end:])
            received = len(body)
            ttfb = time.perf_counter() - started if received else 0.0
            if hasher is not None:
                hasher.update(body)
            buffer = bytearray(1024 * 1024)
            view = memoryview(buffer)
            while received < length:
                count = sock.recv_into(view)
                if not count:
                    break
                if not ttfb:
                    ttfb = time.perf_counter() - started
                received += count
                if hasher is not None:
                    hasher.update(view[:count])
            return Got(
                status,
                length,
                received,
                ttfb,
                time.perf_counter() - started,
                hasher.hexdigest() if hasher else None,
            )
    raise ConnectionError(f"{url}: too many redirects")


def concurrently(count: int, job: Callable[[int], Got]) -> tuple[float, list[Got]]:
    """Run ``job(i)`` for ``count`` clients started together; (wall seconds, results)."""
    barrier = threading.Barrier(count + 1)
    results: list[Got | BaseException | None] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = job(index)
        except BaseException as exc:  # reported below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    done = []
    for result in results:
        if not isinstance(result, Got):
            raise RuntimeError(f"a client failed: {result!r}")
        done.append(result)
    return wall, done


# -- measuring processes ----------------------------------------------------------------------


def _tree(pid: int) -> list[psutil.Process]:
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def cpu_seconds(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        for process in _tree(pid):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
    return total


@contextlib.contextmanager
def servers_apart(targets: Sequence[Target]) -> Iterator[str]:
    """The targets' processes on the first core, this process's clients (threads started
    inside) on the others, then everything back as it was; yields what it did, for the
    printout. On two cores the scheduler otherwise decides, round by round, whether a
    single client and its server share a core, which moves a 15 ms download by a third."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        yield "not pinned (one core)"
        return
    processes = [process for target in targets for pid in target.pids for process in _tree(pid)]
    before = {process.pid: process.cpu_affinity() for process in processes}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.cpu_affinity(cores[:1])
    os.sched_setaffinity(0, cores[1:])
    try:
        yield f"servers on core {cores[0]}, clients on {', '.join(map(str, cores[1:]))}"
    finally:
        os.sched_setaffinity(0, cores)
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.cpu_affinity(before[process.pid])


def rss(pid: int) -> int:
    total = 0
    for process in _tree(pid):
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


class PeakRss:
    """Sample a process tree's RSS every 20 ms in a thread; ``peak`` and ``before``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = rss(pid)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss(self.pid))


# -- the processes under test -----------------------------------------------------------------


@dataclass
class Target:
    """Something that serves blobs: a name, a base URL, the pids doing the work."""

    name: str
    url: str
    pids: list[int]
    downloads_pid: int | None = None
    admin: httpx.Client | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def evict_all(self) -> None:
        assert self.admin is not None
        self.admin.post("/v1/cache/evict", json={"all": True}).raise_for_status()

    def cache_size(self) -> int:
        assert self.admin is not None
        return int(self.admin.get("/v1/cache/stats").json()["totals"]["size"])


def _admin_client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, timeout=60, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )


@contextlib.contextmanager
def embedded(
    work: Path, name: str, upstream: SimHandle, server: str = "uvicorn"
) -> Iterator[Target]:
    """``snap-proxy serve --server SERVER`` on its own data directory."""
    data = work / name
    data.mkdir()
    port = free_port()
    env = proxy_env(
        SNAPPROXY_DATA_DIR=str(data),
        SNAPPROXY_PORT=str(port),
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        SNAPPROXY_LOG_LEVEL="warning",
        **upstream.proxy_env(),
    )
    subprocess.run([*SNAP_PROXY, "db", "upgrade"], env=env, check=True, capture_output=True)
    log = (work / f"{name}.log").open("ab")
    process = subprocess.Popen(
        [*SNAP_PROXY, "serve", "--server", server],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_http_ok(f"{url}/_status/ping", 30, process):
            raise RuntimeError(f"{name} did not start; see {work / f'{name}.log'}")
        with _admin_client(url) as admin:
            yield Target(name, url, [process.pid], process.pid, admin)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@contextlib.contextmanager
def split(work: Path, upstream: SimHandle) -> Iterator[Target]:
    with running_split(
        work / "split",
        work / "split-data",
        db_prefix="snapproxy_bench",
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        SNAPPROXY_LOG_LEVEL="warning",
        **upstream.proxy_env(),
    ) as topology:
        assert topology.nginx is not None
        downloads = topology.processes["downloads"][0].pid
        with _admin_client(topology.gateway_url) as admin:
            yield Target(
                "split gateway (nginx X-Accel)",
                topology.gateway_url,
                [topology.nginx.pid, downloads],
                downloads,
                admin,
                {"cache_dir": work / "split-data" / "cache"},
            )


NGINX_DIRECT = """\
{user}worker_processes auto;
pid {work}/direct-nginx.pid;
error_log {work}/direct-nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    default_type application/octet-stream;
    client_body_temp_path {work}/direct-temp/body;
    proxy_temp_path {work}/direct-temp/proxy;
    fastcgi_temp_path {work}/direct-temp/fastcgi;
    uwsgi_temp_path {work}/direct-temp/uwsgi;
    scgi_temp_path {work}/direct-temp/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ root {root}; }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_direct(work: Path, root: Path) -> Iterator[Target]:
    """A plain nginx serving ``root`` from disk, configured like the gateway (sendfile)."""
    port = free_port()
    (work / "direct-temp").mkdir()
    conf = work / "direct-nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf.write_text(NGINX_DIRECT.format(user=user, work=work, port=port, root=root))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen(
        [nginx, "-p", str(work), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        yield Target("nginx straight from disk", url, [process.pid])
    finally:
        process.terminate()
        process.wait(10)


BARE_GRANIAN_APP = """\
async def app(scope, receive, send):  # every request: the one file, by pathsend
    if scope["type"] != "http":
        return
    headers = [(b"content-length", b"{size}"), (b"content-type", b"application/octet-stream")]
    await send({{"type": "http.response.start", "status": 200, "headers": headers}})
    await send({{"type": "http.response.pathsend", "path": {path!r}}})
"""


@contextlib.contextmanager
def bare_granian(work: Path, path: Path) -> Iterator[Target]:
    """granian serving ``path`` from a five-line ASGI app: granian alone, the ceiling of
    what ``snap-proxy serve --server granian`` can do."""
    folder = work / "bare-granian"
    folder.mkdir()
    (folder / "bare.py").write_text(
        BARE_GRANIAN_APP.format(size=path.stat().st_size, path=str(path))
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "bare:app"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_http_ok(f"{url}/", 30, process):
            raise RuntimeError("granian with the bare app did not start")
        yield Target("granian alone (bare pathsend app)", url, [process.pid])
    finally:
        process.terminate()
        process.wait(15)


# -- the snaps ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snap:
    name: str
    size: int
    sha3_384: str
    proxy_path: str  # the proxy's download URL path
    upstream_url: str  # the simulator's download URL (redirects to its CDN)


def add_snap(sim: SimHandle, name: str, size: int) -> Snap:
    sim.cli("add-snap", name, "--size", f"{size // MIB}MiB", "--channel", "latest/stable")
    for snap in sim.catalogue()["snaps"]:
        if snap["name"] == name:
            revision = snap["revisions"][-1]
            file = f"{snap['snap-id']}_{revision['revision']}.snap"
            return Snap(
                name,
                int(revision["size"]),
                revision["sha3-384"],
                f"/api/v1/snaps/download/{file}",
                f"{sim.api_url}/api/v1/snaps/download/{file}",
            )
    raise RuntimeError(f"add-snap did not add {name}")


def sim_blob_stats(sim: SimHandle, snap: Snap) -> tuple[int, int]:
    """(requests, bytes) the simulator's CDN served for ``snap`` since the last reset."""
    for file, counters in sim.stats()["blobs"].items():
        if file.startswith(f"{snap.name}_"):
            return int(counters["requests"]), int(counters["bytes"])
    return 0, 0


# -- the measurements --------------------------------------------------------------------------


def fmt_rate(value: float) -> str:
    return f"{value / MIB:8.0f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def measure_hits(targets: list[tuple[Target, str]], snap: Snap, plan: Plan) -> dict[str, Any]:
    """(a): single-stream and 4-stream throughput of a cached snap, per target.

    The targets take turns, round after round, and each figure is the median of its rounds,
    so that whatever else the machine is doing weighs on all of them alike; the servers run
    on one core and the clients on the others (``servers_apart``)."""
    for target, path in targets:  # warm, and check the bytes
        first = http_get(target.url + path, hash_body=True)
        if not first.complete or first.sha3_384 != snap.sha3_384:
            raise RuntimeError(f"{target.name} served the wrong bytes ({first})")
    with servers_apart([target for target, _ in targets]) as placement:
        print(
            f"\n(a) hit throughput: {snap.size // MIB} MiB cached snap, MiB/s,"
            f" median of {plan.hit_repeats} rounds ({placement})"
        )
        print(
            f"{'target':44} {'1 client':>9} {'4 clients':>9} {'CPU s/GiB':>9} {'ttfb ms':>8}"
            f" {'vs nginx':>9}"
        )
        return _hit_rounds(targets, snap, plan)


def _hit_rounds(targets: list[tuple[Target, str]], snap: Snap, plan: Plan) -> dict[str, Any]:
    single: dict[str, list[float]] = {t.name: [] for t, _ in targets}
    four: dict[str, list[float]] = {t.name: [] for t, _ in targets}
    ttfb: dict[str, list[float]] = {t.name: [] for t, _ in targets}
    cpu: dict[str, float] = dict.fromkeys(single, 0.0)
    for _ in range(plan.hit_repeats):
        for target, path in targets:
            url = target.url + path
            before = cpu_seconds(target.pids)
            got = http_get(url)
            assert got.complete, got
            single[target.name].append(snap.size / got.seconds)
            ttfb[target.name].append(got.ttfb)
            wall, results = concurrently(4, lambda _i, url=url: http_get(url))
            assert all(r.complete for r in results)
            four[target.name].append(4 * snap.size / wall)
            cpu[target.name] += cpu_seconds(target.pids) - before
    rows: dict[str, Any] = {}
    base = statistics.median(single[targets[0][0].name])
    moved_gib = plan.hit_repeats * 5 * snap.size / 1024**3
    for target, _ in targets:
        one = statistics.median(single[target.name])
        rows[target.name] = row = {
            "single": one,
            "four": statistics.median(four[target.name]),
            "cpu": cpu[target.name] / moved_gib,
            "ttfb": statistics.median(ttfb[target.name]),
            "ratio": one / base,
        }
        print(
            f"{target.name:44} {fmt_rate(one):>9} {fmt_rate(row['four']):>9}"
            f" {row['cpu']:9.2f} {row['ttfb'] * 1000:8.1f} {row['ratio']:8.2f}x"
        )
    return rows


def measure_misses(sim: SimHandle, targets: list[Target], snap: Snap, plan: Plan) -> dict[str, Any]:
    """(b): N clients on a cold cache versus one direct download from the simulator."""
    sim.set_faults(bandwidth_bps=plan.bandwidth)
    direct = http_get(snap.upstream_url, hash_body=True)
    assert direct.complete and direct.sha3_384 == snap.sha3_384, direct
    print(
        f"\n(b) cold miss: {snap.size // MIB} MiB snap, simulator capped at "
        f"{plan.bandwidth // MIB} MiB/s per connection; one direct download takes "
        f"{direct.seconds:.2f} s"
    )
    print(
        f"{'target':32} {'clients':>7} {'wall s':>7} {'vs direct':>9} {'upstream':>9}"
        f" {'fetches':>7} {'ttfb p50':>8} {'ttfb max':>8}"
    )
    rows: dict[str, Any] = {"direct": direct.seconds}
    for target in targets:
        for clients in plan.levels:
            target.evict_all()
            sim.reset()
            url = target.url + snap.proxy_path
            wall, results = concurrently(
                clients, lambda i, url=url: http_get(url, hash_body=i == 0)
            )
            bad = [r for r in results if not r.complete]
            if bad or results[0].sha3_384 != snap.sha3_384:
                raise RuntimeError(f"{target.name}: {len(bad)} incomplete downloads")
            fetches, sent = sim_blob_stats(sim, snap)
            ttfbs = sorted(r.ttfb for r in results)
            rows[f"{target.name} {clients}"] = row = {
                "wall": wall,
                "ratio": wall / direct.seconds,
                "upstream": sent / snap.size,
                "fetches": fetches,
            }
            print(
                f"{target.name:32} {clients:7} {wall:7.2f} {row['ratio']:8.2f}x"
                f" {row['upstream']:8.2f}x {fetches:7} {statistics.median(ttfbs) * 1000:7.0f}ms"
                f" {ttfbs[-1] * 1000:7.0f}ms"
            )
    return rows


def measure_ttfb(sim: SimHandle, targets: list[Target], snap: Snap, plan: Plan) -> dict[str, Any]:
    """(c): time to first byte of a cold miss versus the simulator's own."""
    sim.set_faults(bandwidth_bps=plan.bandwidth)
    print(f"\n(c) time to first byte of a miss, median of {plan.ttfb_samples} (ms)")
    own = [http_get(snap.upstream_url).ttfb for _ in range(plan.ttfb_samples)]
    rows = {"simulator": statistics.median(own)}
    print(f"{'simulator (redirect + CDN)':32} {rows['simulator'] * 1000:8.1f}")
    for target in targets:
        samples = []
        for _ in range(plan.ttfb_samples):
            target.evict_all()
            samples.append(http_get(target.url + snap.proxy_path).ttfb)
        rows[target.name] = statistics.median(samples)
        print(
            f"{target.name:32} {rows[target.name] * 1000:8.1f}"
            f"  (+{(rows[target.name] - rows['simulator']) * 1000:.1f} ms)"
        )
    return rows


def measure_memory(sim: SimHandle, targets: list[Target], snap: Snap, plan: Plan) -> dict[str, Any]:
    """(d): peak RSS of the process that serves downloads, N clients, cold cache."""
    sim.clear_faults()
    print(
        f"\n(d) peak RSS while {plan.memory_clients} clients fetch a {snap.size // MIB} MiB snap"
        " on a cold cache (simulator uncapped)"
    )
    print(f"{'process':44} {'before':>8} {'peak':>8} {'wall s':>7} {'MiB/s out':>9}")
    rows: dict[str, Any] = {}
    for target in targets:
        assert target.downloads_pid is not None
        target.evict_all()
        sim.reset()
        url = target.url + snap.proxy_path
        with PeakRss(target.downloads_pid) as peak:
            wall, results = concurrently(
                plan.memory_clients, lambda i, url=url: http_get(url, hash_body=i == 0)
            )
        if not all(r.complete for r in results) or results[0].sha3_384 != snap.sha3_384:
            raise RuntimeError(f"{target.name}: incomplete or wrong downloads")
        rows[target.name] = {"before": peak.before, "peak": peak.peak, "wall": wall}
        print(
            f"{target.name:44} {peak.before / MIB:7.0f}M {peak.peak / MIB:7.0f}M {wall:7.2f}"
            f" {fmt_rate(plan.memory_clients * snap.size / wall):>9}"
        )
    return rows


# -- the run -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller snaps, fewer repeats")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if shutil.which("nginx") is None:
        print("nginx is needed (apt-get install nginx)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="snapproxy-bench-downloads-"))
    started = time.monotonic()
    print(f"work directory {work}; cpus {os.cpu_count()}; plan {plan}")
    try:
        with contextlib.ExitStack() as stack:
            sim = stack.enter_context(start_simulator(work / "sim", demo=False))
            big = add_snap(sim, "bench-big", plan.big)
            miss = add_snap(sim, "bench-miss", plan.miss)
            gateway = stack.enter_context(split(work, sim))
            default = stack.enter_context(embedded(work, "embedded", sim, "uvicorn"))
            default.name = "embedded default (uvicorn, sendfile)"
            granian = stack.enter_context(embedded(work, "granian", sim, "granian"))
            granian.name = "embedded --server granian"
            servers = [gateway, default, granian]
            for server in servers:  # fill each cache with the big snap, check the bytes
                got = http_get(server.url + big.proxy_path, hash_body=True)
                if not got.complete or got.sha3_384 != big.sha3_384:
                    raise RuntimeError(f"{server.name}: the first download failed ({got})")
            stored = next(Path(gateway.notes["cache_dir"]).rglob(f"{big.sha3_384}.snap"))
            direct = stack.enter_context(nginx_direct(work, gateway.notes["cache_dir"]))
            relative = "/" + str(stored.relative_to(gateway.notes["cache_dir"]))
            bare = stack.enter_context(bare_granian(work, stored))

            hits = measure_hits(
                [(direct, relative), *[(s, big.proxy_path) for s in servers], (bare, "/")],
                big,
                plan,
            )
            proxies = [gateway, default]
            for proxy in proxies:  # the revision is known: a HEAD records it
                httpx.head(proxy.url + miss.proxy_path, timeout=30).raise_for_status()
            misses = measure_misses(sim, proxies, miss, plan)
            ttfb = measure_ttfb(sim, proxies, miss, plan)
            memory = measure_memory(sim, proxies, big, plan)
            summary(plan, hits, misses, memory, gateway, default, granian)
            _ = ttfb
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nfinished in {time.monotonic() - started:.0f} s")
    return 0


def summary(
    plan: Plan,
    hits: dict[str, Any],
    misses: dict[str, Any],
    memory: dict[str, Any],
    gateway: Target,
    embedded_target: Target,
    granian: Target,
) -> None:
    print("\ngoals")
    ratio = hits[gateway.name]["ratio"]
    print(f"  (a) gateway hits >= {HIT_GOAL}x nginx: {ratio:.2f}x, {verdict(ratio >= HIT_GOAL)}")
    ratio = hits[embedded_target.name]["ratio"]
    print(
        f"  (a) embedded hits >= {EMBEDDED_GOAL}x nginx: {ratio:.2f}x,"
        f" {verdict(ratio >= EMBEDDED_GOAL)}"
    )
    ratio = hits[granian.name]["ratio"]
    print(f"      (--server granian: {ratio:.2f}x, {verdict(ratio >= EMBEDDED_GOAL)})")
    ratio = hits["granian alone (bare pathsend app)"]["ratio"]
    print(f"      (granian alone, a bare pathsend app: {ratio:.2f}x)")
    for target in (gateway, embedded_target):
        ttfb = hits[target.name]["ttfb"]
        print(
            f"  (a) {target.name}, a hit's first byte <= {HIT_TTFB_GOAL * 1000:.0f} ms:"
            f" {ttfb * 1000:.1f} ms, {verdict(ttfb <= HIT_TTFB_GOAL)}"
        )
    for target in (gateway, embedded_target):
        for clients in plan.levels:
            row = misses[f"{target.name} {clients}"]
            ok = row["ratio"] <= MISS_GOAL and row["upstream"] == 1.0 and row["fetches"] == 1
            print(
                f"  (b) {target.name}, {clients} clients: {row['ratio']:.2f}x direct,"
                f" upstream {row['upstream']:.2f}x, {verdict(ok)}"
            )
    row = memory[gateway.name]
    print(
        f"  (d) downloads service peak RSS < {MEMORY_GOAL // MIB} MiB:"
        f" {row['peak'] / MIB:.0f} MiB, {verdict(row['peak'] < MEMORY_GOAL)}"
    )
    row = memory[embedded_target.name]
    print(f"      (embedded, whole suite in one process: {row['peak'] / MIB:.0f} MiB)")


if __name__ == "__main__":
    raise SystemExit(main())
