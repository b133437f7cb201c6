"""How fast ``snap-proxy push-snap`` imports a bundle, against hashing plus copying the same
bytes with the system's tools (docs/performance.md, "Offline import").

.venv/bin/python bench/offline_import.py                # a 1 GiB snap, three rounds
.venv/bin/python bench/offline_import.py --size 256MiB --rounds 1

It builds, in a temporary directory, a bundle of one snap of ``--size`` random bytes with a
complete assertion chain (the store simulator's signing authority, a root of its own that
the importing proxy is told to trust), then, each round, on a fresh SQLite data directory:
``snap-proxy db upgrade`` (not timed), ``snap-proxy push-snap`` (timed, whole process), and
the yardstick: ``openssl dgst -sha3-384`` of the blob (no ``sha3sum`` on Debian) plus
``dd conv=fsync`` of it into the same file system (the import fsyncs its blobs too).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.settings import parse_size  # noqa: E402
from tests.support.offline import build_bundle  # noqa: E402

SNAP_PROXY = [sys.executable, "-m", "shared.cli"]
MIB = 1024 * 1024


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of the command's process, starting with
    no dirty pages (the bundle just written would otherwise be written back meanwhile)."""
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1GiB", help="the snap's size (default 1GiB)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = parse_size(args.size, "--size")
    with tempfile.TemporaryDirectory(
        prefix="bench-offline-", dir=ROOT / "var" if (ROOT / "var").is_dir() else None
    ) as tmp:
        work = Path(tmp)
        print(f"building a bundle of {size / MIB:.0f} MiB…", flush=True)
        bundle, root_key = build_bundle(work, size)[:2]
        blob = work / "blob.snap"
        imports: list[tuple[float, float]] = []
        yardsticks: list[tuple[float, float]] = []
        startups: list[tuple[float, float]] = []
        for round_ in range(args.rounds):
            data_dir = work / f"proxy-{round_}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPPROXY_")}
            env.update(
                SNAPPROXY_DATA_DIR=str(data_dir),
                SNAPPROXY_TRUSTED_ROOT_KEYS=str(root_key),
                SNAPPROXY_LOG_LEVEL="warning",
            )
            subprocess.run([*SNAP_PROXY, "db", "upgrade"], env=env, check=True, capture_output=True)
            startups.append(timed([*SNAP_PROXY, "list-pushed-snaps"], env))
            imports.append(timed([*SNAP_PROXY, "push-snap", str(bundle)], env))
            copy = work / "copy.snap"
            hashing = timed(["openssl", "dgst", "-sha3-384", str(blob)])
            copying = timed(
                ["dd", f"if={blob}", f"of={copy}", "bs=1M", "conv=fsync", "status=none"]
            )
            yardsticks.append((hashing[0] + copying[0], hashing[1] + copying[1]))
            copy.unlink()
            shutil.rmtree(data_dir)
            print(
                f"round {round_ + 1}: push-snap {imports[-1][0]:.2f} s "
                f"(cpu {imports[-1][1]:.2f} s; the command alone, list-pushed-snaps: "
                f"{startups[-1][0]:.2f} s, cpu {startups[-1][1]:.2f} s); "
                f"sha3 + copy {yardsticks[-1][0]:.2f} s (cpu {yardsticks[-1][1]:.2f} s)",
                flush=True,
            )
        mib = size / MIB
        for label, wall_or_cpu in (("wall", 0), ("cpu", 1)):
            imported = statistics.median(t[wall_or_cpu] for t in imports)
            startup = statistics.median(t[wall_or_cpu] for t in startups)
            yardstick = statistics.median(t[wall_or_cpu] for t in yardsticks)
            print(
                f"{label}: push-snap {imported:.2f} s ({mib / imported:.0f} MiB/s), of which "
                f"~{startup:.2f} s starting the command; openssl sha3-384 + dd conv=fsync "
                f"{yardstick:.2f} s ({mib / yardstick:.0f} MiB/s); ratio "
                f"{imported / yardstick:.2f}x, {(imported - startup) / yardstick:.2f}x "
                f"without the start (median of {args.rounds})"
            )


if __name__ == "__main__":
    main()
