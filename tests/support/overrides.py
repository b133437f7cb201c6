"""What the overrides tests share: a snap of their own with several revisions on the
simulator, the overrides API as the admin calls it, and the shapes it answers in."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.proxies import DEVICE_HEADERS, ProxyUnderTest
from tests.support.sim import SimHandle
from tools.snap_store_sim.layout import DataDir
from tools.snap_store_sim.publish import add_snap

# The Snap Store Proxy's overrides API (admin-surface reference): exactly these fields, all
# required.
OVERRIDE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["overrides"],
    "properties": {
        "overrides": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "snap_id",
                    "snap_name",
                    "revision",
                    "upstream_revision",
                    "channel",
                    "architecture",
                    "series",
                ],
                "properties": {
                    "snap_id": {"type": "string", "minLength": 1},
                    "snap_name": {"type": "string", "minLength": 1},
                    "revision": {"type": "integer", "minimum": 1},
                    "upstream_revision": {"type": ["integer", "null"], "minimum": 1},
                    "channel": {"type": "string", "minLength": 1},
                    "architecture": {"type": "string", "minLength": 1},
                    "series": {"const": "16"},
                },
            },
        }
    },
}


@dataclass
class PinnableSnap:
    """A snap published for one test: revision -> (architecture, sha3-384, size)."""

    name: str
    snap_id: str
    revisions: dict[int, dict[str, Any]] = field(default_factory=dict)

    def sha3(self, revision: int) -> str:
        return str(self.revisions[revision]["sha3-384"])


def publish_revision(
    sim: SimHandle, snap: PinnableSnap, channels: list[str], arch: str = "amd64"
) -> int:
    """Publish the snap's next revision (a real .snap) to ``channels``; its number."""
    published, rev = add_snap(
        DataDir(sim.data_dir), snap.name, size=4096, channels=channels, arch=arch
    )
    snap.snap_id = published.snap_id
    snap.revisions[rev.revision] = {
        "arch": arch,
        "sha3-384": rev.sha3_384,
        "size": rev.size,
        "path": sim.data_dir / "snaps" / rev.file,  # the reference bytes
    }
    return rev.revision


def pinnable_snap(sim: SimHandle, prefix: str = "pin") -> PinnableSnap:
    """A fresh snap: r1 then r2 released to latest/stable (r2 holds it), r3 (arm64) on
    latest/stable, r4 on latest/candidate."""
    snap = PinnableSnap(name=f"{prefix}-{uuid.uuid4().hex[:10]}", snap_id="")
    publish_revision(sim, snap, ["latest/stable"])
    publish_revision(sim, snap, ["latest/stable"])
    publish_revision(sim, snap, ["latest/stable"], arch="arm64")
    publish_revision(sim, snap, ["latest/candidate"])
    return snap


def post_overrides(
    proxy: ProxyUnderTest, items: list[dict[str, Any]], token: bool = True
) -> httpx.Response:
    client = proxy.admin() if token else httpx.Client(base_url=proxy.url, timeout=30)
    with client:
        return client.post("/v2/metadata/overrides", json=items)


def get_overrides(proxy: ProxyUnderTest, name: str) -> list[dict[str, Any]]:
    with proxy.admin() as admin:
        response = admin.get(f"/v2/metadata/overrides/{name}")
        response.raise_for_status()
        return list(response.json()["overrides"])


def override_log(proxy: ProxyUnderTest, name: str) -> list[dict[str, Any]]:
    with proxy.admin() as admin:
        response = admin.get("/v1/overrides/log", params={"snap": name})
        response.raise_for_status()
        return list(response.json()["changes"])


def pin(proxy: ProxyUnderTest, name: str, channel: str, revision: int | None) -> Any:
    item = {"snap_name": name, "channel": channel, "revision": revision, "series": "16"}
    response = post_overrides(proxy, [item])
    assert response.status_code == 200, response.text
    return response.json()


def device_refresh(
    url: str,
    action: dict[str, Any],
    context: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One snap action as snapd sends it, from an amd64 device; the result for it."""
    body = {"context": context or [], "actions": [action], "fields": ["revision", "download"]}
    with httpx.Client(
        base_url=url, timeout=60, headers={**DEVICE_HEADERS, **(headers or {})}
    ) as client:
        response = client.post("/v2/snaps/refresh", json=body)
        response.raise_for_status()
        results = [r for r in response.json()["results"] if r.get("instance-key") == "k"]
        assert len(results) == 1, response.text
        return dict(results[0])


def eventually(check: Callable[[], Any], timeout: float, every: float = 0.1) -> Any:
    """``check()``'s first true value within ``timeout`` seconds; AssertionError after."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        time.sleep(every)
