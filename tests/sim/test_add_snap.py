"""add-snap: real blobs and assertions, noticed by a running server."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import httpx

from shared.assertions import parse_assertion
from tests.sim.helpers import one
from tests.support.device_api import install
from tests.support.sim import SimHandle, run_cli
from tools.snap_store_sim.ids import account_id_for
from tools.snap_store_sim.publish import b64url_digest


def test_add_snap_to_running_server(sim: SimHandle, api: httpx.Client) -> None:
    done = sim.cli("add-snap", "added-app", "--size", "300KiB", "--channel", "latest/stable",
                   "--channel", "beta", "--version", "9.9")  # fmt: skip
    assert "added added-app revision 1" in done.stdout
    snap = one(api, install("added-app"))["snap"]
    assert snap["revision"] == 1 and snap["version"] == "9.9"
    assert 290_000 < snap["download"]["size"] < 320_000
    blob = httpx.get(snap["download"]["url"], follow_redirects=True).content
    assert hashlib.sha3_384(blob).hexdigest() == snap["download"]["sha3-384"]
    revision = api.get(
        f"/v2/assertions/snap-revision/{b64url_digest(snap['download']['sha3-384'])}"
    )
    assert parse_assertion(revision.content).header("snap-size") == str(len(blob))
    assert parse_assertion(revision.content).header("developer-id") == account_id_for("simdev")
    declaration = api.get(f"/v2/assertions/snap-declaration/16/{snap['snap-id']}")
    assert parse_assertion(declaration.content).header("snap-name") == "added-app"
    publisher = api.get(f"/v2/assertions/account/{account_id_for('simdev')}")
    assert parse_assertion(publisher.content).header("username") == "simdev"

    sim.cli("add-snap", "added-app", "--size", "5MiB", "--revision", "10",
            "--channel", "latest/stable")  # fmt: skip
    sim.cli("add-snap", "added-app", "--size", "8KiB", "--revision", "11", "--arch", "arm64",
            "--channel", "stable", "--channel", "2.0/edge")  # fmt: skip
    assert one(api, install("added-app"))["snap"]["revision"] == 10
    assert one(api, install("added-app", channel="beta"))["snap"]["revision"] == 1
    arm64 = {"Snap-Device-Architecture": "arm64"}
    with httpx.Client(base_url=sim.api_url, headers=arm64) as arm:
        assert one(arm, install("added-app"))["snap"]["revision"] == 11
        assert one(arm, install("added-app", channel="2.0/edge"))["snap"]["revision"] == 11
        closed = one(arm, install("added-app", channel="2.0/beta"))  # falls towards stable
        assert closed["error"]["code"] == "revision-not-found"
    info = httpx.get(f"{sim.api_url}/v2/snaps/info/added-app").json()  # no arch: all of them
    assert {(e["channel"]["architecture"], e["channel"]["name"]) for e in info["channel-map"]} == {
        ("amd64", "stable"), ("amd64", "beta"), ("arm64", "stable"), ("arm64", "2.0/edge"),
    }  # fmt: skip


def test_add_snap_rejects_bad_input(sim: SimHandle) -> None:
    for args in (
        ["Bad_Name"],
        ["added-bad", "--channel", "a/b/c/d"],
        ["added-bad", "--size", "lots"],
        ["added-bad", "--confinement", "loose"],
    ):
        result = sim.cli("add-snap", *args, check=False)
        assert result.returncode != 0, args
    sim.cli("add-snap", "added-dup", "--size", "4KiB")
    dup = sim.cli("add-snap", "added-dup", "--revision", "1", check=False)
    assert dup.returncode == 1 and "already has revision 1" in dup.stderr


def test_add_snap_without_server(simulator: SimHandle, tmp_path: Path) -> None:
    data = tmp_path / "offline"
    shutil.copytree(simulator.data_dir / "keys", data / "keys")
    run_cli("add-snap", "offline-app", "--data-dir", str(data), "--size", "16KiB",
            "--type", "base", "--arch", "all")  # fmt: skip
    catalogue = (data / "catalogue.json").read_text()
    assert '"offline-app"' in catalogue and '"base": null' in catalogue
    assert (data / "snaps" / "offline-app_1.snap").exists()
