"""A chain: a child snapproxy registered with a parent snapproxy, the simulator upstream of
the parent. The child's devices get the right bytes with one blob fetch from the simulator
and one fill on the parent; the parent's inventory shows the child, with the devices and
other clients the child reports; with the parent away, the child warns and serves on."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from shared.assertions import parse_stream, public_key_from_account_key, verify_chain
from tests.support.device_sessions import SESSIONS, new_device
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS, EmbeddedProxy, ProxyUnderTest
from tests.support.proxy_cli import snap_proxy
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download

# The timeout: two proxies, registration and the real client in one scenario.
pytestmark = [pytest.mark.realclient, pytest.mark.timeout(900)]

CHILD_FLAGS = ("--account", "branch@example.com", "--password-stdin", "--use-case", "a branch")
REPORT_INTERVAL = 2  # seconds: the child reports often, so the test sees its figures move


def inventory_once(parent: EmbeddedProxy, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The parent's only child, once ``done`` says it is as expected (or after a minute)."""
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=parent.url, timeout=30) as admin:
        while True:
            answer = admin.get("/v1/children", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            assert answer.status_code == 200, answer.text
            (child,) = answer.json()["children"]
            if done(child) or time.monotonic() > deadline:
                found: dict[str, Any] = child
                return found
            time.sleep(0.5)


def test_a_child_registered_with_a_parent_downloads_through_it(
    plain_sim: SimHandle, tmp_path: Path
) -> None:
    sim_env = plain_sim.proxy_env()
    parent = EmbeddedProxy(tmp_path / "parent", SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN, **sim_env)
    parent.start()
    child = EmbeddedProxy(
        tmp_path / "child",
        SNAPPROXY_UPSTREAM_URL=parent.url,
        SNAPPROXY_CDN_HOSTS=parent.url,
        SNAPPROXY_TRUSTED_ROOT_KEYS=sim_env["SNAPPROXY_TRUSTED_ROOT_KEYS"],
        SNAPPROXY_DOMAIN="branch.example.test",
        SNAPPROXY_REPORT_INTERVAL=str(REPORT_INTERVAL),
    )
    # The store assertion names the domain; the download URLs the test's devices follow
    # name the loopback address the child listens on.
    child.env["SNAPPROXY_PUBLIC_URL"] = child.url
    child.start()
    try:
        # The parent signs with its identity key: none yet, so it cannot register anyone.
        refused = snap_proxy(child, "register", *CHILD_FLAGS, stdin=f"{ADMIN_TOKEN}\n")
        assert refused.returncode == 1 and "generate-keys" in refused.stderr, refused.output
        made = snap_proxy(parent, "generate-keys")
        assert made.returncode == 0 and "ssh-rsa " in made.stdout, made.output
        wrong = snap_proxy(child, "register", *CHILD_FLAGS, stdin="not-the-token\n")
        assert wrong.returncode == 1 and "(invalid-credentials)" in wrong.stderr, wrong.output

        done = snap_proxy(child, "register", *CHILD_FLAGS, stdin=f"{ADMIN_TOKEN}\n")
        assert done.returncode == 0, done.output
        store_id = done.stdout.split("Store ID: ", 1)[1].split()[0]
        # Once registered, the child reports at once (it sees the new Store ID within the
        # configuration's poll): no device and no other client yet.
        first = inventory_once(parent, lambda child: child["reported-at"] is not None)
        assert first["reported-at"] is not None, first
        assert first["devices"] == 0 and first["other-clients"] == 0, first

        # The child serves the store assertion the parent signed with its identity key.
        with httpx.Client(base_url=child.url, headers=DEVICE_HEADERS, timeout=30) as device:
            bundle = device.get("/v2/auth/store/assertions")
        assert bundle.status_code == 200, bundle.text
        store, account_key, operator = parse_stream(bundle.content)
        assert store.header("store") == store_id
        assert store.header("url") == f"http://branch.example.test:{child.port}"
        verify_chain(store, [account_key])
        verify_chain(account_key, [account_key])
        assert operator.type == "account"
        assert operator.header("account-id") == store.header("operator-id")
        verify_chain(operator, [account_key])
        parent_public = snap_proxy(parent, "config", "proxy.key.public").stdout.split()[-2:]
        ssh_key = serialization.load_ssh_public_key(" ".join(parent_public).encode())
        assert public_key_from_account_key(account_key).public_numbers() == (
            ssh_key.public_numbers()  # type: ignore[union-attr]
        )

        # Devices of the child: the right bytes, one fetch upstream, one fill on the parent.
        plain_sim.reset()
        revision = plain_sim.revision("tiny-tool", 1)
        result = snap_download(child.url, "tiny-tool", cwd=tmp_path / "download")
        assert result.fetched_snap and result.sha3_384 == revision["sha3-384"], result.describe()
        assert plain_sim.stats()["blobs"][revision["file"]]["requests"] == 1
        on_parent = ProxyUnderTest("parent", parent.url, parent.data_dir, embedded=parent)
        assert len(on_parent.entries("tiny-tool")) == 1
        counts = on_parent.snap_stats("tiny-tool")
        assert counts["misses"] == 1 and counts["bytes-from-upstream"] == revision["size"]

        # Two devices with a session on the child (granted by the simulator through the
        # parent); snap download above was another client. The child's next report says so.
        with httpx.Client(base_url=child.url, headers=DEVICE_HEADERS, timeout=30) as device:
            for one in (new_device("branch"), new_device("branch")):
                assert device.post(SESSIONS, json=one.session_body()).status_code == 200
        reported = inventory_once(
            parent, lambda child: child["devices"] == 2 and child["other-clients"] == 1
        )
        assert reported["devices"] == 2 and reported["other-clients"] == 1, reported
        assert reported["last-contact"] > first["last-contact"]

        # The parent's inventory.
        with on_parent.admin() as admin:
            listed = admin.get("/v1/children").json()["children"]
        (entry,) = listed
        assert entry["store-id"] == store_id and entry["domain"] == "branch.example.test"
        assert entry["account"] == "branch@example.com" and entry["use-case"] == "a branch"
        assert entry["last-contact"] >= entry["registered-at"]
        shown = snap_proxy(parent, "children", "--url", parent.url)
        assert shown.returncode == 0 and store_id in shown.stdout, shown.output
        assert "branch.example.test" in shown.stdout and "not reported" not in shown.stdout
        row = next(line for line in shown.stdout.splitlines() if store_id in line)
        cells = [cell.strip() for cell in row.split("│")[-3:-1]]
        assert cells == ["2", "1"], shown.stdout  # devices, others
        with httpx.Client(base_url=parent.url, timeout=30) as anyone:
            assert anyone.get("/v1/children").status_code == 401

        # The parent away: the child says so in its log and serves on.
        parent.stop()
        deadline = time.monotonic() + 30
        while "auth.parent_unreachable" not in child.log() and time.monotonic() < deadline:
            time.sleep(0.5)
        warning = next(
            (line for line in child.log().splitlines() if "auth.parent_unreachable" in line), ""
        )
        assert "[Errno 111] Connection refused" in warning, child.log()[-3000:]
        assert "warn" in warning.lower(), warning
        with httpx.Client(base_url=child.url, headers=DEVICE_HEADERS, timeout=30) as device:
            assert device.get("/v2/auth/store/assertions").status_code == 200
            assert device.get("/_status/ping").status_code == 200
    finally:
        child.stop()
        parent.stop()
