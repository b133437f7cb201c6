"""``snap-proxy run-split`` applies keys that need a restart by itself: a new gateway port
renders nginx again and reloads it (the new port answers, the old one no longer does), and
a services key restarts every service."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shared import migrate
from shared.settings import Settings
from shared.split import free_port
from tests.support.admin_cli import Node
from tests.support.infra import fresh_database, proxy_env
from tests.support.proxies import SNAP_PROXY

pytestmark = [
    pytest.mark.split,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/_status/ping", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Node]:
    with fresh_database() as url:
        migrate.upgrade(Settings(database_url=url))
        yield Node(tmp_path / "data", env={"SNAPPROXY_DATABASE_URL": url})


def test_run_split_follows_restart_needed_keys(admin: Node, tmp_path: Path) -> None:
    first, second = free_port(), free_port()
    admin.ok(f"proxy.port.http={first}", "config.poll-interval=0.5")
    output = tmp_path / "run-split.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [*SNAP_PROXY, "run-split", "--workdir", str(tmp_path / "split")],
            env=proxy_env(SNAPPROXY_DATA_DIR=str(admin.data_dir), **admin.env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def said() -> str:
        return output.read_text(errors="replace")

    try:
        wait_until(lambda: answers(first), 90, f"run-split did not start:\n{said()}")
        # run-split says so once its own look at the gateway succeeds, which may come a
        # moment after ours (a loaded machine): wait for the line rather than race it.
        wait_until(lambda: f"gateway http://127.0.0.1:{first}/" in said(), 30, said())

        result = admin.config(f"proxy.port.http={second}")
        assert "note: proxy.port.http takes effect when the gateway restarts" in result.stderr
        wait_until(lambda: answers(second), 15, f"the new port does not answer:\n{said()}")
        wait_until(lambda: not answers(first), 15, "the old port still answers")
        assert f"listen 127.0.0.1:{second};" in (tmp_path / "split" / "nginx.conf").read_text()
        # run-split says so once its own look at the new port succeeds, which may come a
        # moment after ours (its poll interval): wait for the line rather than race it.
        reloaded = "proxy.port.http changed: nginx re-rendered and reloaded"
        wait_until(lambda: reloaded in said(), 30, said())
        with httpx.Client(base_url=f"http://127.0.0.1:{second}", timeout=10) as client:
            assert client.get("/_status/check").status_code == 200

        admin.ok("metadata.info-ttl=5")
        # Five services restarted one after another, each waited for (up to 60 s each).
        wait_until(lambda: "every service restarted" in said(), 300, said())
        starts = (tmp_path / "split" / "devicegw-0.log").read_text().count("listening on")
        assert starts == 2
        with httpx.Client(base_url=f"http://127.0.0.1:{second}", timeout=10) as client:
            assert client.get("/_status/check").status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
