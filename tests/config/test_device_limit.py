"""``proxy.device-limit`` across replicas: set once with ``snap-proxy config``, a second auth
replica refuses a new device within 5 s; known devices keep their sessions; the refusal is
logged and counted, and ``snap-proxy status`` and ``snap-proxy devices`` show it all."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.split import SplitTopology
from tests.support.admin_cli import Node
from tests.support.device_api import assert_store_error
from tests.support.device_sessions import SESSIONS, new_device, session_body
from tests.support.infra import running_split
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS
from tests.support.sim import SimHandle

WITHIN = 5.0  # the acceptance: every replica follows a change within this many seconds


@pytest.fixture
def two_auth_replicas(tmp_path: Path, sim: SimHandle) -> Iterator[SplitTopology]:
    settings = sim.proxy_env() | {"SNAPPROXY_ADMIN_TOKEN": ADMIN_TOKEN}
    with running_split(
        tmp_path / "run", tmp_path / "data", settings, replicas={"auth": 2}
    ) as topology:
        yield topology


def replica(topology: SplitTopology, index: int) -> httpx.Client:
    port = topology.ports["auth"][index]
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=DEVICE_HEADERS, timeout=30)


def until(check: object, timeout: float = WITHIN) -> float:
    """Seconds until ``check()`` returns true; fails after ``timeout``."""
    assert callable(check)
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "no replica followed the change in time"
        time.sleep(0.1)
    return time.monotonic() - started


def sessions_upstream(sim: SimHandle) -> int:
    return int(sim.stats()["requests"].get(f"POST {SESSIONS}", 0))


def test_device_limit_set_once_holds_on_every_replica(
    tmp_path: Path, sim: SimHandle, two_auth_replicas: SplitTopology
) -> None:
    topology = two_auth_replicas
    database = topology.env["SNAPPROXY_DATABASE_URL"]
    node = Node(tmp_path / "admin", env={"SNAPPROXY_DATABASE_URL": database})
    first, second = replica(topology, 0), replica(topology, 1)
    known = [new_device("known"), new_device("known")]
    newcomer = new_device("new")
    for device in known:
        assert first.post(SESSIONS, json=device.session_body()).status_code == 200

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    node.ok("proxy.device-limit=2")

    def limited() -> bool:
        # Each replica's own view of the live key (asking for a session instead would
        # admit the newcomer while the limit is not there yet).
        return all(
            client.get("/v1/devices/summary", headers=admin).json()["device-limit"] == 2
            for client in (first, second)
        )

    until(limited)
    before = sessions_upstream(sim)
    for _ in range(2):
        answer = second.post(SESSIONS, json=newcomer.session_body())
        assert_store_error(answer, 403, "device-limit-reached")
    message = answer.json()["error-list"][0]["message"]
    assert "at most 2 devices (proxy.device-limit)" in message and "2 are connected" in message
    assert sessions_upstream(sim) == before, "a refused request reached the upstream"

    # Known devices keep working on either replica; a request with no serial the proxy can
    # read is not a device (the upstream judges it) and is not limited.
    for client in (first, second):
        for device in known:
            assert client.post(SESSIONS, json=device.session_body()).status_code == 200
    assert first.post(SESSIONS, json=session_body("not a serial")).status_code == 200

    # Counted (the admin API, status) and logged (the replica that refused).
    gateway = httpx.Client(
        base_url=topology.gateway_url,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    )
    summary = gateway.get("/v1/devices/summary").json()
    assert summary["connected-devices"] == 2
    assert summary["device-limit"] == 2
    assert summary["refused-devices"] == 1
    assert summary["refused-sessions"] == 2
    [refusal] = gateway.get("/v1/devices/refused").json()["devices"]
    assert refusal["serial"] == newcomer.serial and refusal["refusals"] == 2
    log = (topology.workdir / "auth-1.log").read_text(errors="replace")
    assert "auth.device_limit_reached" in log and newcomer.serial in log

    status = node.run("status", "--url", topology.gateway_url, SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN)
    assert status.returncode == 0, status.stdout + status.stderr
    lines = status.stdout.splitlines()
    assert lines[2:5] == [
        "Connected Devices (updated daily): 2",
        "Other Clients (no device session, updated daily): 0",
        "Device Limit: 2",
    ]
    assert "Refused New Devices (device limit, last 24 h): 1" in lines[5]
    for part in ("memcached", "nginx", "snapauth", "snapdevicegw", "snaprevs", "snapassert"):
        assert f"  {part}: running" in lines

    # Unlimited again: the newcomer gets its session, through the other replica too.
    node.ok("proxy.device-limit=0")
    until(
        lambda: all(
            client.get("/v1/devices/summary", headers=admin).json()["device-limit"] is None
            for client in (first, second)
        )
    )
    assert first.post(SESSIONS, json=newcomer.session_body()).status_code == 200
    assert second.post(SESSIONS, json=newcomer.session_body()).status_code == 200
    listing = node.run("devices", "--url", topology.gateway_url, SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN)
    assert listing.returncode == 0, listing.stderr
    for device in [*known, newcomer]:
        assert device.serial in listing.stdout
