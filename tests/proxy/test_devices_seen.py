"""Who the proxy counts: devices by serial (a session in the last 24 h), and other clients
by address, with the real ``snap download`` (it has no device session) as the judge; then
``snap-proxy status`` and ``snap-proxy devices`` show both, on a proxy of the test's own
(the shared proxies have seen every other test's clients)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.device_api import REFRESH, install, refresh_body
from tests.support.device_sessions import SESSIONS, new_device
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS, SNAP_PROXY, EmbeddedProxy
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download


@pytest.fixture
def fresh_proxy(tmp_path: Path, sim: SimHandle) -> Iterator[EmbeddedProxy]:
    proxy = EmbeddedProxy(tmp_path / "proxy", SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN, **sim.proxy_env())
    proxy.start()
    yield proxy
    proxy.stop()


def admin_get(proxy: EmbeddedProxy, path: str) -> Any:
    with proxy.client() as client:
        response = client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200, response.text
    return response.json()


def until_seen(proxy: EmbeddedProxy, timeout: float = 30) -> Any:
    """/v1/clients once it lists a client (devicegw writes beside the requests)."""
    deadline = time.monotonic() + timeout
    while True:
        clients = admin_get(proxy, "/v1/clients")
        if clients["clients"] or time.monotonic() > deadline:
            return clients
        time.sleep(0.1)


def snap_proxy(proxy: EmbeddedProxy, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SNAP_PROXY, *args, "--url", proxy.url],
        env=proxy.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_devices_by_serial_and_snap_download_as_another_client(
    fresh_proxy: EmbeddedProxy, sim: SimHandle, tmp_path: Path
) -> None:
    # A device with a session refreshing is not another client.
    with fresh_proxy.client() as client:
        with_session = {
            **DEVICE_HEADERS,
            "Snap-Device-Authorization": 'Macaroon root="s"',
            "User-Agent": "test-device-with-session/1",
        }
        answer = client.post(
            REFRESH, json=refresh_body([install("hello-sim")]), headers=with_session
        )
        assert answer.status_code == 200, answer.text
    assert admin_get(fresh_proxy, "/v1/clients")["other-clients"] == 0

    # The real client, without a device session: counted apart, by address.
    done = snap_download(fresh_proxy.url, "hello-sim", cwd=tmp_path / "download")
    assert done.fetched_snap, done.describe()
    clients = until_seen(fresh_proxy)
    assert clients["other-clients"] == 1
    [seen] = clients["clients"]
    assert seen["address"] == "127.0.0.1"
    # snap download's own user agent: had the device with a session been recorded, its row
    # (same address, within the minute) would be the one listed.
    assert seen["user-agent"].startswith("snapd/"), seen
    assert seen["first-seen"] <= seen["last-seen"]

    # Devices with sessions: counted by serial, twice the same device is one.
    devices = [new_device("seen"), new_device("seen")]
    with fresh_proxy.client() as client:
        for device in [*devices, devices[0]]:
            response = client.post(SESSIONS, json=device.session_body(), headers=DEVICE_HEADERS)
            assert response.status_code == 200, response.text
    summary = admin_get(fresh_proxy, "/v1/devices/summary")
    assert summary["connected-devices"] == 2
    assert summary["device-limit"] is None and summary["refused-devices"] == 0

    status = snap_proxy(fresh_proxy, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.splitlines()[:6] == [
        "Store ID: not registered",
        "Status: not registered",
        "Connected Devices (updated daily): 2",
        "Other Clients (no device session, updated daily): 1",
        "Device Limit: unlimited",
        "Mode: online",
    ]

    listing = snap_proxy(fresh_proxy, "devices", "--json")
    assert listing.returncode == 0, listing.stderr
    document = json.loads(listing.stdout)
    by_serial = {device["serial"]: device for device in document["devices"]}
    for device in devices:
        row = by_serial[device.serial]
        assert (row["brand-id"], row["model"], row["verified"]) == (
            device.brand,
            device.model,
            True,
        )
        assert row["first-seen"] <= row["last-seen"]
    assert by_serial[devices[0].serial]["sessions"] == 2
    assert [client["address"] for client in document["other-clients"]] == ["127.0.0.1"]
    assert document["refused-devices"] == []

    table = snap_proxy(fresh_proxy, "devices")
    assert table.returncode == 0, table.stderr
    for device in devices:
        assert device.serial in table.stdout
    assert "Other clients" in table.stdout and "127.0.0.1" in table.stdout
