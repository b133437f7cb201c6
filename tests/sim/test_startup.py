"""serve --demo readiness, ready.json, restarts on the same data directory."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.sim.helpers import one
from tests.support.device_api import install
from tests.support.sim import SimHandle, start_simulator


def test_demo_ready_on_empty_dir_and_restart(tmp_path: Path) -> None:
    """Ready (ready.json written, both ports answering) on an empty directory and again on
    the same one. How fast is not asserted: beside CI's other workers and an image build a
    start once took 11 s."""
    data = tmp_path / "fresh"
    handle = start_simulator(data, demo=True)
    try:
        ready = json.loads((data / "ready.json").read_text())
        assert ready == {"api": handle.api_url, "cdn": handle.cdn_url,
                         "pid": handle.process.pid if handle.process else None}  # fmt: skip
        assert handle.api_port and handle.cdn_port and handle.api_port != handle.cdn_port
        assert (data / "keys" / "root.pem").exists() and (data / "keys" / "store.pem").exists()
        with httpx.Client(base_url=handle.api_url) as client:
            before = one(client, install("hello-sim"))["snap"]
        ports = (handle.api_port, handle.cdn_port)
        handle.stop()
        assert not (data / "ready.json").exists()
        handle.start()  # same directory, same ports
        assert (handle.api_port, handle.cdn_port) == ports
        with httpx.Client(base_url=handle.api_url) as client:
            after = one(client, install("hello-sim"))["snap"]
        assert after["download"]["sha3-384"] == before["download"]["sha3-384"]
        assert after["snap-id"] == before["snap-id"]
    finally:
        handle.kill()


def test_session_simulator_is_ready(simulator: SimHandle) -> None:
    catalogue = simulator.catalogue()
    names = {snap["name"] for snap in catalogue["snaps"]}
    apps = {"hello-sim", "tiny-tool", "mid-app", "big-app", "huge-data"}
    assert apps | {"core20", "core22", "snapd"} <= names
    hello = next(s for s in catalogue["snaps"] if s["name"] == "hello-sim")
    assert len(hello["snap-id"]) == 32 and hello["snap-id"].isalnum()
    rev = hello["revisions"][0]
    assert {"revision", "version", "arch", "channels", "size", "sha3-384", "file", "type",
            "base", "confinement", "released-at"} <= set(rev)  # fmt: skip
    assert (simulator.data_dir / "snaps" / rev["file"]).stat().st_size == rev["size"]


def test_demo_blobs_are_deterministic(simulator: SimHandle, tmp_path: Path) -> None:
    """The same demo spec gives the same bytes (content seeded per name/revision)."""
    from tools.snap_store_sim.builder import build_snap
    from tools.snap_store_sim.catalogue import load_catalogue
    from tools.snap_store_sim.publish import snap_meta

    catalogue = load_catalogue(simulator.data_dir / "catalogue.json")
    snap = catalogue.by_name("tiny-tool")
    assert snap is not None
    rev = snap.revisions[0]
    size, sha3 = build_snap(
        tmp_path / "again.snap", snap_meta(snap, rev), 64 * 1024,
        f"{snap.name}/{rev.revision}/{rev.arch}", tmp_path,
    )  # fmt: skip
    assert (size, sha3) == (rev.size, rev.sha3_384)


def test_demo_catalogue_has_what_its_snaps_need(simulator: SimHandle) -> None:
    """Every base a demo snap names, and snapd, are in the demo catalogue as snaps of the
    right type with no base of their own, released to stable for each architecture the
    snap is published for (``all`` needs them on every architecture the catalogue has)."""
    from tools.snap_store_sim.demo import DEMO_SNAPS

    snaps = {snap["name"]: snap for snap in simulator.catalogue()["snaps"]}
    stable = {
        (name, rev["arch"])
        for name, snap in snaps.items()
        for rev in snap["revisions"]
        if "latest/stable" in rev["channels"]
    }
    specific = {rev.arch for spec in DEMO_SNAPS for rev in spec.revisions} - {"all"}
    assert specific == {"amd64", "arm64"}
    needed: set[tuple[str, str]] = set()
    for spec in DEMO_SNAPS:
        for item in spec.revisions:
            for arch in specific if item.arch == "all" else {item.arch}:
                if spec.base is not None:
                    needed |= {(spec.base, arch), ("snapd", arch)}
    assert {name for name, _arch in needed} == {"core20", "core22", "snapd"}
    assert needed <= stable
    for name, kind in (("core20", "base"), ("core22", "base"), ("snapd", "snapd")):
        for rev in snaps[name]["revisions"]:
            assert (rev["type"], rev["base"]) == (kind, None)
            assert f"type: {kind}\n" in rev["snap-yaml"] and "base:" not in rev["snap-yaml"]
