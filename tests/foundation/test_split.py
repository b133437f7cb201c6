"""The split topology: one process per service behind nginx, PostgreSQL and memcached.

Outages are real: the test's own PostgreSQL server and memcached are stopped and started.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared import migrate
from shared.settings import SERVICE_NAMES, Settings
from shared.split import SplitTopology
from tests.support.infra import Memcached, PrivatePostgres, fresh_database, proxy_env
from tests.support.proxies import SNAP_PROXY

pytestmark = [
    pytest.mark.split,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]


def wait_for_status(
    client: httpx.Client, path: str, status: int, timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        if response.status_code == status or time.monotonic() > deadline:
            assert response.status_code == status, response.text
            return dict(response.json())
        time.sleep(0.25)


@pytest.fixture
def outage_topology(
    tmp_path, private_postgres: PrivatePostgres, memcached_private: Memcached
) -> Iterator[SplitTopology]:
    with fresh_database(private_postgres.admin_dsn) as url:
        migrate.upgrade(Settings(database_url=url))
        topology = SplitTopology(
            workdir=tmp_path / "split",
            extra_env=proxy_env(
                SNAPPROXY_DATABASE_URL=url,
                SNAPPROXY_MEMCACHED=memcached_private.address,
                SNAPPROXY_DATA_DIR=str(tmp_path / "data"),
                SNAPPROXY_CHECK_TIMEOUT="1",
                SNAPPROXY_DB_CONNECT_TIMEOUT="1",
            ),
        )
        topology.start()
        try:
            yield topology
        finally:
            topology.stop()


def status_lines(topology: SplitTopology) -> tuple[int, list[str]]:
    """``snap-proxy status`` against the topology's gateway: exit code, lines."""
    done = subprocess.run(
        [*SNAP_PROXY, "status", "--url", topology.gateway_url],
        env=proxy_env(SNAPPROXY_DATA_DIR=str(topology.workdir / "status")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout.splitlines()


def test_split_topology_answers_health(outage_topology: SplitTopology):
    with httpx.Client(base_url=outage_topology.gateway_url, timeout=10) as client:
        assert client.get("/_status/ping").json()["service"] == "gateway"
        body = wait_for_status(client, "/_status/check", 200)
        assert set(body["services"]) == set(SERVICE_NAMES)
        for service in SERVICE_NAMES:
            ping = client.get(f"/_status/{service}/ping")
            assert ping.json()["service"] == service
            check = client.get(f"/_status/{service}/check")
            assert check.status_code == 200
            assert check.json()["checks"]["memcached"]["ok"] is True
        answer = client.get("/v2/nothing-here", headers={"X-Request-Id": "rid-42"})
        assert answer.headers["x-request-id"] == "rid-42"
    code, lines = status_lines(outage_topology)
    assert code == 0, lines
    assert lines[lines.index("Internal Service Status:") + 1 :] == [
        "  memcached: running",
        "  nginx: running",
        "  snapassert: running",
        "  snapauth: running",
        "  snapdevicegw: running",
        "  snapdownloads: running",
        "  snaprevs: running",
    ]


def test_database_outage_and_recovery(outage_topology, private_postgres):
    with httpx.Client(base_url=outage_topology.gateway_url, timeout=15) as client:
        wait_for_status(client, "/_status/check", 200)
        private_postgres.stop()
        body = wait_for_status(client, "/_status/check", 503)
        for service in SERVICE_NAMES:
            result = body["services"][service]
            assert result["ok"] is False
            assert result["checks"]["database"]["ok"] is False
            assert "database" in result["error"]
            assert result["checks"]["memcached"]["ok"] is True
        # Liveness needs no database: every service still answers its ping.
        for service in SERVICE_NAMES:
            assert client.get(f"/_status/{service}/ping").status_code == 200
        private_postgres.start()
        wait_for_status(client, "/_status/check", 200, timeout=30)
    assert all(p.poll() is None for ps in outage_topology.processes.values() for p in ps)


def test_memcached_outage_still_serves(outage_topology, memcached_private):
    with httpx.Client(base_url=outage_topology.gateway_url, timeout=15) as client:
        wait_for_status(client, "/_status/check", 200)
        memcached_private.stop()
        body = wait_for_status(client, "/_status/check", 503)
        for service in SERVICE_NAMES:
            checks = body["services"][service]["checks"]
            assert checks["memcached"]["ok"] is False
            assert checks["database"]["ok"] is True
            assert "memcached" in body["services"][service]["error"]
        for service in SERVICE_NAMES:
            assert client.get(f"/_status/{service}/ping").status_code == 200
        code, lines = status_lines(outage_topology)
        assert code == 1
        assert "  memcached: not running: [Errno 111] Connection refused" in lines
        assert "  nginx: running" in lines
        url = f"{outage_topology.gateway_url}/_status/auth/check"
        assert (
            f"  snapauth: not running: 503 Server Error: Service Unavailable for url: {url} "
            "(memcached: [Errno 111] Connection refused)"
        ) in lines
        memcached_private.start()
        wait_for_status(client, "/_status/check", 200)
    assert all(p.poll() is None for ps in outage_topology.processes.values() for p in ps)


def test_a_stopped_service_is_reported(outage_topology):
    with httpx.Client(base_url=outage_topology.gateway_url, timeout=15) as client:
        wait_for_status(client, "/_status/check", 200)
        outage_topology.stop_service("assertions")
        body = wait_for_status(client, "/_status/check", 503)
        assert body["services"]["assertions"]["ok"] is False
        assert body["services"]["auth"]["ok"] is True
        down = client.get("/_status/assertions/check")
        assert down.status_code == 503
        assert down.json()["error-list"][0]["code"] == "service-unavailable"
        code, lines = status_lines(outage_topology)
        assert code == 1
        url = f"{outage_topology.gateway_url}/_status/assertions/check"
        assert (
            f"  snapassert: not running: 503 Server Error: Service Unavailable for url: {url} "
            "(a snapproxy service is not answering)"
        ) in lines
        assert "  snapauth: running" in lines and "  nginx: running" in lines
        outage_topology.start_service("assertions")
        wait_for_status(client, "/_status/check", 200)
