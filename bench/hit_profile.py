"""What one cache hit costs: time to first byte, and where the CPU goes.

    .venv/bin/python bench/hit_profile.py                        # embedded and split
    .venv/bin/python bench/hit_profile.py --profile docs/profiles  # plus py-spy flame graphs

It starts the store simulator, publishes one small snap (256 KiB: the body is a small part
of the cost), fills the cache of each target with it, then sends hits one after another on
one keep-alive connection and measures the time to the first body byte of each. The
yardstick is nginx serving the same file from disk in the same run. With ``--profile DIR``
the target's processes are sampled by py-spy (``py-spy record --subprocesses``) while the
hits run, and a flame graph ``hit-<target>.svg`` is written to DIR.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.downloads import embedded, nginx_direct, split
from tests.support.cache import publish
from tests.support.sim import running_simulator

FORMAT = "flamegraph"  # py-spy's; "raw" gives collapsed stacks


@dataclass(frozen=True)
class Timing:
    target: str
    samples: list[float]

    def quantile(self, share: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


PER_CONNECTION = 500  # under nginx's keepalive_requests (1000)


def first_byte_times(url: str, requests: int) -> list[float]:
    """Sequential GETs on keep-alive connections; seconds to each answer's first byte."""
    times: list[float] = []
    while len(times) < requests:
        times += _on_one_connection(url, min(PER_CONNECTION, requests - len(times)))
    return times


def _on_one_connection(url: str, requests: int) -> list[float]:
    """Seconds from each request to its whole head (as before: what the figures in
    docs/performance.md measured), read in as few ``recv`` calls as the head arrives in."""
    parts = urlsplit(url)
    request = (
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "X-Ubuntu-Architecture: amd64\r\nUser-Agent: bench\r\n\r\n"
    ).encode()
    times = []
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    with socket.create_connection((parts.hostname, parts.port or 80)) as sock:
        for _ in range(requests):  # one at a time: nothing is read past an answer
            started = time.perf_counter()
            sock.sendall(request)
            head = bytearray()
            while b"\r\n\r\n" not in head:
                count = sock.recv_into(view)
                if not count:
                    raise ConnectionError(f"{url}: closed after {len(times)} answers")
                head += view[:count]
            times.append(time.perf_counter() - started)
            end = head.index(b"\r\n\r\n") + 4
            lines = bytes(head[:end]).decode("latin-1").split("\r\n")
            assert lines[0].split()[1] == "200", lines[0]
            length = next(
                int(h.split(":")[1]) for h in lines if h.lower().startswith("content-length")
            )
            remaining = length - (len(head) - end)
            while remaining > 0:
                count = sock.recv_into(view, min(remaining, len(buffer)))
                if not count:
                    raise ConnectionError(f"{url}: body cut after {len(times)} answers")
                remaining -= count
    return times


@contextlib.contextmanager
def sampled(pid: int | None, out: Path | None) -> Iterator[None]:
    if out is None or pid is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    process = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--subprocesses", "--rate", "500",
         "--format", FORMAT, "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        process.send_signal(2)  # SIGINT: py-spy writes the graph and exits
        process.wait(60)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", type=Path, help="write py-spy flame graphs here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="snapproxy-bench-hit-"))
    results = []
    try:
        with contextlib.ExitStack() as stack:
            sim = stack.enter_context(running_simulator(work / "sim", demo=False))
            blob = publish(sim, 256 * 1024, "bench-hit")
            gateway = stack.enter_context(split(work, sim))
            default = stack.enter_context(embedded(work, "embedded", sim, "uvicorn"))
            granian = stack.enter_context(embedded(work, "granian", sim, "granian"))
            for target in (gateway, default, granian):
                first_byte_times(target.url + blob.url_path, 1)  # the miss that fills it
            stored = next(Path(gateway.notes["cache_dir"]).rglob(f"{blob.sha3_384}.snap"))
            direct = stack.enter_context(nginx_direct(work, gateway.notes["cache_dir"]))
            relative = "/" + str(stored.relative_to(gateway.notes["cache_dir"]))
            plan = [  # name, URL, what to profile, and the name of its flame graph
                ("nginx straight from disk", direct.url + relative, None, "nginx"),
                ("split gateway (nginx X-Accel)", gateway.url + blob.url_path, gateway, "split"),
                ("embedded default (uvicorn)", default.url + blob.url_path, default, "embedded"),
                ("embedded --server granian", granian.url + blob.url_path, granian, "granian"),
            ]
            for name, url, target, slug in plan:
                first_byte_times(url, 200)  # warm up
                profile = None
                if args.profile is not None and target is not None:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    profile = args.profile / f"hit-{slug}.svg"
                pid = target.downloads_pid if target is not None else None
                with sampled(pid, profile):
                    results.append(Timing(name, first_byte_times(url, args.requests)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ntime to first byte of a cached 256 KiB snap, {args.requests} sequential hits (ms)")
    print(f"{'target':34} {'p50':>7} {'p90':>7} {'p99':>7} {'mean':>7}")
    for timing in results:
        print(
            f"{timing.target:34} {timing.quantile(0.5) * 1000:7.2f} "
            f"{timing.quantile(0.9) * 1000:7.2f} {timing.quantile(0.99) * 1000:7.2f} "
            f"{statistics.fmean(timing.samples) * 1000:7.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
