"""The embedded default (``make run``): five services in one process, health through it."""

from __future__ import annotations

import json
import subprocess

from shared.settings import SERVICE_NAMES
from tests.support.proxies import SNAP_PROXY


def test_suite_check_reports_all_five(embedded_proxy):
    with embedded_proxy.client() as client:
        response = client.get("/_status/check")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["services"]) == set(SERVICE_NAMES)
    for result in body["services"].values():
        assert result["ok"] is True
        assert result["checks"]["database"]["ok"] is True


def test_each_service_reachable_by_status_path(embedded_proxy):
    with embedded_proxy.client() as client:
        for service in SERVICE_NAMES:
            ping = client.get(f"/_status/{service}/ping")
            assert ping.status_code == 200
            assert ping.json()["service"] == service
            assert client.head(f"/_status/{service}/ping").status_code == 200
            check = client.get(f"/_status/{service}/check")
            assert check.status_code == 200
            assert check.json()["service"] == service


def test_unknown_path_is_store_shaped_404(embedded_proxy):
    with embedded_proxy.client() as client:
        response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error-list"][0]["code"] == "not-found"


def test_request_id_is_carried(embedded_proxy):
    with embedded_proxy.client() as client:
        response = client.get("/_status/auth/ping", headers={"X-Request-Id": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"
        made_up = client.get("/_status/auth/ping").headers["x-request-id"]
    assert len(made_up) == 32


def test_status_command_shows_each_service_running(embedded_proxy):
    """The guide's shape; the embedded default says what runs in-process (no nginx line)."""
    result = subprocess.run(
        [*SNAP_PROXY, "status", "--url", embedded_proxy.url],
        capture_output=True,
        text=True,
        timeout=60,
        env=embedded_proxy.env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    no_token = (
        "unknown (no admin token: set admin.token (snap-proxy config) or SNAPPROXY_ADMIN_TOKEN)"
    )
    assert result.stdout.splitlines() == [
        "Store ID: not registered",
        "Status: not registered",
        f"Connected Devices (updated daily): {no_token}",
        f"Other Clients (no device session, updated daily): {no_token}",
        "Device Limit: unlimited",  # this node's configuration: the proxy was not asked
        "Mode: online",
        "Internal Service Status:",
        "  gateway: running (in-process: snap-proxy serve, no nginx)",
        "  memcached: not used (in-process cache of snap-proxy serve: "
        "proxy.memcached.connection unset)",
        "  snapassert: running (in-process)",
        "  snapauth: running (in-process)",
        "  snapdevicegw: running (in-process)",
        "  snapdownloads: running (in-process)",
        "  snaprevs: running (in-process)",
    ]


def test_status_command_names_what_is_down(tmp_path):
    result = subprocess.run(
        [*SNAP_PROXY, "status", "--url", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "SNAPPROXY_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 1
    refused = "not running: [Errno 111] Connection refused"
    lines = result.stdout.splitlines()
    assert lines[lines.index("Internal Service Status:") + 1 :] == [
        "  memcached: not running: unknown (no service answered)",
        f"  nginx: {refused}",
        f"  snapassert: {refused}",
        f"  snapauth: {refused}",
        f"  snapdevicegw: {refused}",
        f"  snapdownloads: {refused}",
        f"  snaprevs: {refused}",
    ]


def test_status_json_for_scripts(embedded_proxy):
    result = subprocess.run(
        [*SNAP_PROXY, "status", "--json", "--url", embedded_proxy.url],
        capture_output=True,
        text=True,
        timeout=60,
        env=embedded_proxy.env,
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["topology"] == "embedded" and status["healthy"] is True
    assert status["store-id"] is None and status["status"] == "not registered"
    assert status["connected-devices"] is None and "no admin token" in status["figures-error"]
    assert status["services"]["snapauth"] == {"running": True, "detail": "in-process"}
    assert "nginx" not in status["services"]
