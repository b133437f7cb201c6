"""Debian's real snap client and daemon (snapd 2.57.6) against the store simulator.

The simulator signs with its own trust chain, so every run ends at the client's assertion
trust check (a self-signed root key is "circular"), after the refresh call and the blob
download. These tests pin that the client gets that far, with the right blob.
See docs/real-client.md for what the client sends and prints.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.assertions import sha3_384_file
from tests.support.sim import SimHandle
from tests.support.snapclient import (
    NOT_FOUND_ERROR,
    SNAP_BIN,
    SNAPD_BIN,
    SnapdHandle,
    normalise_snap_output,
    parse_snap_find,
    parse_snap_info,
    require_binary,
    snap_download,
    snapd_daemon,
)
from tools.snap_store_sim.demo import DEMO_SNAPS

pytestmark = pytest.mark.realclient

HELLO = "hello-sim"


@pytest.fixture(autouse=True)
def _snap_client() -> None:
    require_binary(SNAP_BIN)


def host_arch() -> str:
    done = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True)
    return done.stdout.strip() or "amd64"


def root_key(sim: SimHandle) -> str:
    """The simulator's self-signed root account-key: where the client's chain ends."""
    authority = json.loads((sim.data_dir / "keys" / "authority.json").read_text())
    return str(authority["root-key"])


def advertised(
    sim: SimHandle,
    name: str,
    *,
    channel: str | None = None,
    revision: int | None = None,
    arch: str | None = None,
) -> dict[str, Any]:
    """The refresh answer for the same download action the client sends."""
    action: dict[str, Any] = {
        "action": "download", "instance-key": "download-1", "name": name, "epoch": None,
    }  # fmt: skip
    if channel is not None:
        action["channel"] = channel
    if revision is not None:
        action["revision"] = revision
    headers = {"Snap-Device-Architecture": arch or host_arch(), "Snap-Device-Series": "16"}
    response = httpx.post(
        sim.api_url + "/v2/snaps/refresh",
        json={"context": [], "actions": [action], "fields": ["download", "revision"]},
        headers=headers,
        timeout=30,
    )
    response.raise_for_status()
    (result,) = response.json()["results"]
    assert result["result"] == "download", result
    snap: dict[str, Any] = result["snap"]
    return snap


# ---- snap download (CLI only) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "revision", "arch", "expected"),
    [
        (None, None, None, 1),
        ("beta", None, None, 3),
        ("latest/edge", None, None, 4),
        ("2.0/edge", None, None, 7),
        (None, 5, None, 5),
        (None, None, "arm64", 2),
        ("2.0/stable", None, "arm64", 6),
    ],
    ids=["stable", "beta", "edge", "track-2.0-edge", "revision-5", "arm64", "arm64-track-2.0"],
)
def test_snap_download_fetches_blob_then_stops_at_trust_check(
    sim: SimHandle,
    tmp_path: Path,
    channel: str | None,
    revision: int | None,
    arch: str | None,
    expected: int,
) -> None:
    result = snap_download(
        sim.api_url, HELLO, cwd=tmp_path, channel=channel, revision=revision, arch=arch
    )

    assert result.stopped_at_trust_check, result.describe()
    assert result.returncode == 1
    assert result.error == (
        "error: cannot fetch snap signatures/assertions: circular assertions are not "
        f"expected: account-key ({root_key(sim)})"
    ), result.describe()
    assert result.stdout.splitlines() == [
        f'Fetching snap "{HELLO}"',
        f'Fetching assertions for "{HELLO}"',
    ]
    assert result.revision == expected, result.describe()
    offer = advertised(sim, HELLO, channel=channel, revision=revision, arch=arch)
    catalogue = sim.revision(HELLO, expected)
    assert offer["revision"] == expected
    assert result.sha3_384 == offer["download"]["sha3-384"] == catalogue["sha3-384"]
    assert result.snap_path is not None
    assert result.snap_path.stat().st_size == offer["download"]["size"] == catalogue["size"]
    stats = sim.stats()
    blob = f"{HELLO}_{expected}.snap"
    assert stats["blobs"][blob]["requests"] == 1
    assert stats["blobs"][blob]["bytes"] == catalogue["size"]
    assert stats["actions"].get("download", 0) >= 1


def test_snap_download_with_ubuntu_store_url(sim: SimHandle, tmp_path: Path) -> None:
    result = snap_download(sim.api_url, HELLO, cwd=tmp_path, use_ubuntu_store_url=True)

    assert result.stopped_at_trust_check, result.describe()
    assert result.revision == 1
    assert result.sha3_384 == sim.revision(HELLO, 1)["sha3-384"]


def test_snap_download_unknown_name(sim: SimHandle, tmp_path: Path) -> None:
    result = snap_download(sim.api_url, "no-such-snap", cwd=tmp_path)

    assert result.returncode == 1
    assert result.not_found, result.describe()
    assert result.error == NOT_FOUND_ERROR.format(name="no-such-snap")
    assert result.stdout.splitlines() == ['Fetching snap "no-such-snap"']
    assert result.snap_path is None
    assert not list(tmp_path.iterdir())
    assert not sim.stats()["blobs"]


def test_snap_download_skips_transfer_when_file_is_present(sim: SimHandle, tmp_path: Path) -> None:
    first = snap_download(sim.api_url, HELLO, cwd=tmp_path)
    second = snap_download(sim.api_url, HELLO, cwd=tmp_path)

    assert first.stopped_at_trust_check and second.stopped_at_trust_check
    assert second.sha3_384 == first.sha3_384
    assert sim.stats()["blobs"][f"{HELLO}_1.snap"]["requests"] == 1


# ---- through the daemon ----------------------------------------------------------------------


def expected_channels(sim: SimHandle, name: str, arch: str) -> dict[str, dict[str, Any]]:
    """``{"latest/stable": {"version", "revision"}}`` for what the catalogue releases."""
    (snap,) = [item for item in sim.catalogue()["snaps"] if item["name"] == name]
    channels: dict[str, dict[str, Any]] = {}
    for rev in snap["revisions"]:
        if rev["arch"] in (arch, "all"):
            for channel in rev["channels"]:
                channels[channel] = {"version": rev["version"], "revision": rev["revision"]}
    return channels


@pytest.fixture(scope="class")
def snapd(simulator: SimHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnapdHandle]:
    """One snapd for a test class, pointed at the session simulator (class scope: only one
    daemon can run at a time, and starting one takes seconds)."""
    require_binary(SNAPD_BIN)
    log_path = tmp_path_factory.mktemp("snapd") / "snapd.log"
    with snapd_daemon(simulator.api_url, log_path=log_path) as handle:
        yield handle


class TestDaemon:
    """``snap find`` / ``snap info`` (GET /v2/snaps/find, /v2/snaps/info), then ``snap install``
    (POST /v2/snaps/refresh, the download, the assertions), through snapd."""

    def test_snap_find(self, sim: SimHandle, snapd: SnapdHandle) -> None:
        done = snapd.run("find", "hello")

        assert done.returncode == 0, done.stderr
        rows = {row["name"]: row for row in parse_snap_find(done.stdout)}
        assert HELLO in rows, done.stdout
        assert rows[HELLO]["version"] == "1.0"
        assert rows[HELLO]["summary"] == "Says hello from the simulated store"
        assert rows[HELLO]["publisher"] == "snapsim**"  # "**": a starred publisher, in ASCII
        assert rows[HELLO]["notes"] == "-"
        assert sim.stats()["requests"].get("GET /v2/snaps/find") == 1

    def test_snap_find_lists_the_catalogue(self, sim: SimHandle, snapd: SnapdHandle) -> None:
        done = snapd.run("find", "sim")

        assert done.returncode == 0, done.stderr
        rows = {row["name"]: row for row in parse_snap_find(done.stdout)}
        assert {spec.name for spec in DEMO_SNAPS} <= set(rows), done.stdout
        assert rows["mid-app"]["notes"] == "classic"

    def test_snap_find_nothing(self, snapd: SnapdHandle) -> None:
        done = snapd.run("find", "zzzzzz")

        assert done.returncode == 0
        assert done.stdout == ""
        assert done.stderr.strip() == 'No matching snaps for "zzzzzz"'

    def test_snap_info_channels_versions_tracks(self, sim: SimHandle, snapd: SnapdHandle) -> None:
        done = snapd.run("info", HELLO)

        assert done.returncode == 0, done.stderr
        info = parse_snap_info(done.stdout)
        assert info["name"] == HELLO
        (snap,) = [item for item in sim.catalogue()["snaps"] if item["name"] == HELLO]
        assert info["snap-id"] == snap["snap-id"]
        expected = expected_channels(sim, HELLO, host_arch())
        for channel, want in expected.items():
            got = info["channels"].get(channel)
            assert got is not None, f"{channel} missing from:\n{done.stdout}"
            assert (got["version"], got["revision"]) == (want["version"], want["revision"])
        # Both tracks appear, in channel-map order, each with all four risks.
        tracks = list(dict.fromkeys(name.split("/")[0] for name in info["channels"]))
        assert tracks == ["latest", "2.0"]
        assert info["channels"]["2.0/candidate"]["version"] == "^"
        assert sim.stats()["requests"].get("GET /v2/snaps/info/{name}") == 1

    def test_snap_info_unknown(self, snapd: SnapdHandle) -> None:
        done = snapd.run("info", "no-such-snap")

        assert done.returncode == 1
        assert done.stdout == ""
        assert done.stderr.strip() == 'error: no snap found for "no-such-snap"'

    def test_normalised_info_hides_only_the_store_url(
        self, sim: SimHandle, snapd: SnapdHandle
    ) -> None:
        done = snapd.run("info", "--verbose", HELLO)

        assert sim.api_url in done.stdout  # store-url is the simulator's own page URL
        text = normalise_snap_output(done.stdout, store_urls=[sim.api_url])
        assert sim.api_url not in text
        assert "store-url:" not in text
        assert "channels:" in text and "base:    core22" in text
        assert normalise_snap_output(done.stdout, store_urls=[sim.api_url + "/"]) == text

    # -- snap install: prerequisites, downloads, then the trust check ---------------------
    # The demo catalogue has the bases its apps name and snapd, so the install gets past
    # "Ensure prerequisites". These run last in the class: they leave a failed change and
    # a downloaded blob in the daemon's state.

    def test_snap_install_fetches_snapd_first_then_stops_at_trust_check(
        self, sim: SimHandle, snapd: SnapdHandle
    ) -> None:
        done = snapd.run("install", HELLO)

        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            "error: cannot perform the following tasks:",
            '- Fetch and check assertions for snap "snapd" (1) (circular assertions are not '
            f"expected: account-key ({root_key(sim)}))",
        ], done.stderr
        stats = sim.stats()
        # hello-sim, then its base core22, then snapd: one install action each. Every other
        # task waits for snapd's, so only snapd's blob is fetched before the trust check.
        assert stats["actions"] == {"install": 3}
        snapd_rev = sim.revision("snapd", 1)
        assert stats["blobs"] == {"snapd_1.snap": {"requests": 1, "bytes": snapd_rev["size"]}}
        assert sha3_384_file(snapd.downloaded("snapd", 1))[0] == snapd_rev["sha3-384"]
        assert not snapd.downloaded("core22", 1).exists()
        assert not snapd.downloaded(HELLO, 1).exists()
        # Serial registration hit the loopback egress guard, never the network.
        log = snapd.log()
        assert "no such host" not in log
        assert "lookup api.snapcraft.io" not in log

    def test_snap_install_base_has_no_prerequisites(
        self, sim: SimHandle, snapd: SnapdHandle
    ) -> None:
        done = snapd.run("install", "core22")

        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            "error: cannot perform the following tasks:",
            '- Fetch and check assertions for snap "core22" (1) (circular assertions are not '
            f"expected: account-key ({root_key(sim)}))",
        ], done.stderr
        stats = sim.stats()
        assert stats["actions"] == {"install": 1}  # a base needs neither a base nor snapd
        core22 = sim.revision("core22", 1)
        assert stats["blobs"] == {"core22_1.snap": {"requests": 1, "bytes": core22["size"]}}
        assert sha3_384_file(snapd.downloaded("core22", 1))[0] == core22["sha3-384"]

    def test_snap_install_missing_base(self, sim: SimHandle, snapd: SnapdHandle) -> None:
        sim.cli("add-snap", "needs-core24", "--base", "core24", "--size", "8KiB")

        done = snapd.run("install", "needs-core24")

        assert done.returncode == 1
        assert done.stderr.splitlines() == [
            "error: cannot perform the following tasks:",
            '- Ensure prerequisites for "needs-core24" are available (cannot install snap base '
            '"core24": snap not found)',
        ]
        assert sim.stats()["actions"] == {"install": 2}  # needs-core24, then core24
        assert not sim.stats()["blobs"]
