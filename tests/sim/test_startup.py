"""serve --demo readiness, ready.json, restarts on the same data directory."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.sim.helpers import install, one
from tests.support.sim import SimHandle, start_simulator

READY_LIMIT = 10.0  # acceptance: serve --demo on an empty directory is ready in < 10 s


def test_demo_ready_fast_on_empty_dir_and_restart(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    handle = start_simulator(data, demo=True)
    try:
        assert handle.ready_seconds is not None and handle.ready_seconds < READY_LIMIT, (
            f"ready after {handle.ready_seconds:.1f}s"
        )
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
        assert handle.ready_seconds is not None and handle.ready_seconds < 5
        with httpx.Client(base_url=handle.api_url) as client:
            after = one(client, install("hello-sim"))["snap"]
        assert after["download"]["sha3-384"] == before["download"]["sha3-384"]
        assert after["snap-id"] == before["snap-id"]
    finally:
        handle.kill()


def test_session_simulator_is_ready(simulator: SimHandle) -> None:
    assert simulator.ready_seconds is not None and simulator.ready_seconds < READY_LIMIT
    catalogue = simulator.catalogue()
    names = {snap["name"] for snap in catalogue["snaps"]}
    assert {"hello-sim", "tiny-tool", "mid-app", "big-app", "huge-data"} <= names
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
