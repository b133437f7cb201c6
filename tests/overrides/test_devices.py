"""What devices get once a channel is pinned (caller: devices, public), in both topologies:
the real ``snap download`` gets the pinned revision's bytes and assertions, the real
daemon's ``snap info`` shows it in the channel map, refresh, info and find answers name it,
and removing the pin brings the upstream's revision back on the next request, cached
answers notwithstanding."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.overrides import PinnableSnap, device_refresh, pin, pinnable_snap
from tests.support.proxies import DEVICE_HEADERS, ProxyUnderTest
from tests.support.sim import SimHandle
from tests.support.snapclient import parse_snap_info, snap_download, snapd_daemon
from tools.snap_store_sim.publish import b64url_digest


@pytest.fixture
def snap(sim: SimHandle) -> PinnableSnap:
    return pinnable_snap(sim)


def info(proxy: ProxyUnderTest, name: str) -> dict[str, dict[str, object]]:
    """The channel map of ``/v2/snaps/info``, by (channel name, architecture)."""
    with proxy.client() as device:
        response = device.get(
            f"/v2/snaps/info/{name}",
            params={"fields": "revision,version,download", "architecture": "amd64"},
        )
        response.raise_for_status()
    return {
        f"{e['channel']['name']}@{e['channel']['architecture']}": e
        for e in response.json()["channel-map"]
    }


def download(proxy: ProxyUnderTest, name: str, where: Path) -> tuple[int | None, str | None, str]:
    """``snap download NAME`` through the proxy: the revision, its SHA3-384, the HTTP log."""
    result = snap_download(proxy.url, name, cwd=where, debug_http=True)
    assert result.stopped_at_trust_check, result.describe()  # the simulator's own root key
    return result.revision, result.sha3_384, result.stderr


def test_real_client_gets_the_pinned_revision_until_the_pin_goes(
    any_proxy: ProxyUnderTest, snap: PinnableSnap, tmp_path: Path
) -> None:
    # Before: the upstream's latest/stable (r2); the info answer is now in the proxy's cache.
    assert download(any_proxy, snap.name, tmp_path / "before")[:2] == (2, snap.sha3(2))
    assert info(any_proxy, snap.name)["stable@amd64"]["revision"] == 2

    pin(any_proxy, snap.name, "stable", 1)
    revision, sha3, http_log = download(any_proxy, snap.name, tmp_path / "pinned")
    assert (revision, sha3) == (1, snap.sha3(1))
    # Its assertions are r1's: the snap-revision of r1's digest came from the proxy.
    assert f"/v2/assertions/snap-revision/{b64url_digest(snap.sha3(1))}" in http_log
    assert b64url_digest(snap.sha3(2)) not in http_log

    with snapd_daemon(any_proxy.url, log_path=tmp_path / "snapd.log") as snapd:
        shown = snapd.run("info", snap.name)
    assert shown.returncode == 0, shown.stderr
    channels = parse_snap_info(shown.stdout)["channels"]
    assert channels["latest/stable"]["revision"] == 1, shown.stdout
    assert channels["latest/stable"]["version"] == "1.0.1"
    assert channels["latest/candidate"]["revision"] == 4  # not pinned: the upstream's

    pin(any_proxy, snap.name, "stable", None)
    assert info(any_proxy, snap.name)["stable@amd64"]["revision"] == 2
    assert download(any_proxy, snap.name, tmp_path / "after")[:2] == (2, snap.sha3(2))


def test_refresh_info_and_find_name_the_pinned_revision(
    any_proxy: ProxyUnderTest, sim: SimHandle, snap: PinnableSnap
) -> None:
    pin(any_proxy, snap.name, "stable", 1)
    url = any_proxy.url

    entry = info(any_proxy, snap.name)["stable@amd64"]
    assert entry["revision"] == 1 and entry["version"] == "1.0.1"
    assert entry["download"] == {
        "url": f"{url}/api/v1/snaps/download/{snap.snap_id}_1.snap",
        "size": snap.revisions[1]["size"],
        "sha3-384": snap.sha3(1),
        "deltas": [],
    }
    assert info(any_proxy, snap.name)["candidate@amd64"]["revision"] == 4

    install = device_refresh(
        url, {"action": "install", "instance-key": "k", "name": snap.name, "epoch": None}
    )
    assert (install["snap"]["revision"], install["effective-channel"]) == (1, "latest/stable")
    candidate = device_refresh(
        url,
        {"action": "download", "instance-key": "k", "name": snap.name, "channel": "candidate"},
    )
    assert candidate["snap"]["revision"] == 4
    asked = device_refresh(  # an explicit revision is not a channel: no pin applies
        url, {"action": "download", "instance-key": "k", "name": snap.name, "revision": 2}
    )
    assert asked["snap"]["revision"] == 2
    # A device on r2, tracking stable, is offered r1 (snapd's choice; docs/overrides.md).
    context = [
        {"snap-id": snap.snap_id, "instance-key": "k", "revision": 2, "tracking-channel": "stable"}
    ]
    refresh = device_refresh(
        url, {"action": "refresh", "instance-key": "k", "snap-id": snap.snap_id}, context
    )
    assert refresh["snap"]["revision"] == 1
    # The arm64 device's stable is not pinned (r1 is amd64's only).
    arm = device_refresh(
        url,
        {"action": "install", "instance-key": "k", "name": snap.name, "epoch": None},
        headers={"Snap-Device-Architecture": "arm64"},
    )
    assert arm["snap"]["revision"] == 3

    with httpx.Client(base_url=url, timeout=60, headers=DEVICE_HEADERS) as device:
        found = device.get(
            "/v2/snaps/find",
            params={"q": snap.name, "channel": "stable", "fields": "revision,version,download"},
        )
        found.raise_for_status()
        (result,) = [r for r in found.json()["results"] if r["name"] == snap.name]
        assert (result["revision"]["revision"], result["revision"]["version"]) == (1, "1.0.1")
        # The pinned blob is served (and cached) like any other: the simulator's bytes.
        blob = device.get(entry["download"]["url"])
        assert blob.status_code == 200
        assert blob.content == snap.revisions[1]["path"].read_bytes()


def test_a_pin_answers_refreshes_while_the_upstream_is_away(
    any_proxy: ProxyUnderTest, sim: SimHandle, snap: PinnableSnap
) -> None:
    """No device asked for the snap before: only the pin knows what to answer."""
    pin(any_proxy, snap.name, "stable", 1)
    sim.stop()  # the fixture starts it again
    action = {"action": "install", "instance-key": "k", "name": snap.name, "epoch": None}
    result = device_refresh(any_proxy.url, action)
    assert (result["snap"]["revision"], result["effective-channel"]) == (1, "latest/stable")
    assert result["snap"]["download"]["url"].startswith(any_proxy.url)
