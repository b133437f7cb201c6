"""``serve-service --workers 2``: two uvicorn worker processes behind one socket; a scrape
reaching either one shows both workers' counts (prometheus-client's multiprocess mode, in a
directory of the service's own, removed when it stops)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from shared.split import free_port, wait_http_ok
from tests.support.infra import proxy_env
from tests.support.metrics import scrape
from tests.support.proxies import SNAP_PROXY
from tests.support.sim import SimHandle

PINGS = 40
SCRAPES = 8
NAME = "snapproxy_http_requests_total"
PING = {"service": "devicegw", "route": "/_status/ping", "status": "200"}


def test_two_workers_answer_one_sum(tmp_path: Path, upstream: SimHandle) -> None:
    data_dir, temp = tmp_path / "data", tmp_path / "tmp"
    data_dir.mkdir()
    temp.mkdir()
    env = proxy_env(SNAPPROXY_DATA_DIR=str(data_dir), **upstream.proxy_env()) | {
        "TMPDIR": str(temp)
    }
    subprocess.run([*SNAP_PROXY, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "devicegw.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*SNAP_PROXY, "serve-service", "devicegw", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        assert wait_http_ok(f"{url}/_status/ping", 90, process), log_path.read_text()
        [directory] = temp.glob("snapproxy-metrics-*")
        before = scrape(url).value(NAME, **PING)
        for _ in range(PINGS):  # a connection each: the kernel hands them to either worker
            assert httpx.get(f"{url}/_status/ping", timeout=30).status_code == 200
        seen = {scrape(url).value(NAME, **PING) for _ in range(SCRAPES)}
        assert seen == {before + PINGS}, seen
        # Both workers keep their own files there (named by process id).
        pids = {path.stem.rsplit("_", 1)[-1] for path in directory.glob("*.db")}
        assert len(pids) >= 2, sorted(path.name for path in directory.iterdir())
    finally:
        process.terminate()
        process.wait(30)
    assert not list(temp.glob("snapproxy-metrics-*")), "the metrics directory was left behind"
