"""``snap-proxy run-split`` follows ``import-certificate``: the first import turns HTTPS on
and a second one replaces the certificate, each by re-rendering nginx and reloading it (the
same nginx master, no failed request)."""

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
from tests.support.https_proxy import Watcher, pem_fingerprint, served_fingerprint
from tests.support.infra import fresh_database, proxy_env
from tests.support.proxies import SNAP_PROXY

pytestmark = [
    pytest.mark.split,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def serves(port: int, chain: str) -> bool:
    try:
        return served_fingerprint("localhost", port) == pem_fingerprint(chain)
    except OSError:
        return False


def redirects(url: str) -> bool:
    return httpx.get(f"{url}/v2/snaps/info/x", timeout=10).status_code == 301


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Node]:
    with fresh_database() as url:
        migrate.upgrade(Settings(database_url=url))
        yield Node(tmp_path / "data", env={"SNAPPROXY_DATABASE_URL": url})


def test_run_split_takes_each_imported_certificate(admin: Node, tmp_path: Path) -> None:
    http, https = free_port(), free_port()
    admin.ok(
        "proxy.domain=localhost",
        f"proxy.port.http={http}",
        f"proxy.port.https={https}",
        "config.poll-interval=0.5",
    )
    output = tmp_path / "run-split.out"
    workdir = tmp_path / "split"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [*SNAP_PROXY, "run-split", "--workdir", str(workdir)],
            env=proxy_env(SNAPPROXY_DATA_DIR=str(admin.data_dir), **admin.env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def said() -> str:
        return output.read_text(errors="replace")

    def chain() -> str:
        return admin.config("proxy.tls.cert").stdout

    try:
        url = f"http://127.0.0.1:{http}"
        wait_until(lambda: (workdir / "nginx.pid").exists(), 120, f"no nginx:\n{said()}")
        wait_until(lambda: "split topology up" in said(), 120, said())
        master = (workdir / "nginx.pid").read_text()
        assert httpx.get(f"{url}/v2/snaps/info/x", timeout=10).status_code != 301

        assert admin.run("import-certificate", "--selfsigned").returncode == 0
        first = chain()
        wait_until(lambda: serves(https, first), 30, f"HTTPS did not come up:\n{said()}")
        # nginx's old workers may take a new connection for a moment after the new ones
        # answer (they close their listening sockets as they wind down): soon, HTTP redirects.
        wait_until(lambda: redirects(url), 30, f"HTTP does not redirect:\n{said()}")
        # run-split says so once the reload is done: a moment after nginx serves it.
        reloaded = "proxy.tls.cert, proxy.tls.key changed: nginx re-rendered and reloaded"
        wait_until(lambda: reloaded in said(), 30, said())

        watcher = Watcher(f"https://localhost:{https}/_status/ping", verify=False)
        with watcher.running():
            time.sleep(1)
            assert admin.run("import-certificate", "--selfsigned").returncode == 0
            second = chain()
            assert pem_fingerprint(second) != pem_fingerprint(first)
            wait_until(lambda: serves(https, second), 30, f"not reloaded:\n{said()}")
            time.sleep(1)
        assert watcher.failures == []
        assert watcher.ok > 5
        assert (workdir / "nginx.pid").read_text() == master  # reloaded, not restarted
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
