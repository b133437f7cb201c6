"""Offline mode end to end, judged by the real client (docs/offline.md).

An online proxy in front of the simulator exports two demo snaps with their bases and
snapd; the simulator stops; a fresh proxy on an empty data directory, whose upstream accepts
connections and never answers (any contact would hang), imports the bundle and is switched
to airgap mode. Then the real ``snap download`` and the real daemon's ``snap info`` and
``snap find`` must give what they gave through the online proxy.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.offline.conftest import (
    DAEMON_COMMANDS,
    ESSENTIALS,
    EXPORTED,
    Stores,
    daemon_outputs,
    wait_for_airgap,
)
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS
from tests.support.proxy_cli import cli
from tests.support.snapclient import (
    normalise_snap_output,
    snap_download,
    snapd_daemon,
)

pytestmark = pytest.mark.realclient


def test_the_bundle_holds_the_snaps_and_their_prerequisites(stores: Stores) -> None:
    listed = cli(stores.offline.env, "list-pushed-snaps")
    assert listed.returncode == 0, listed.stderr
    for name in (*EXPORTED, *ESSENTIALS):
        assert name in stores.export_output and name in listed.stdout
    status = cli(stores.offline.env, "status", "--url", stores.offline.url)
    assert "Mode: airgap" in status.stdout, status.stdout
    assert "Warning" not in status.stdout, status.stdout  # bases and snapd are imported


def test_importing_the_same_bundle_again_changes_nothing(stores: Stores) -> None:
    before = cli(stores.offline.env, "list-pushed-snaps").stdout
    again = cli(stores.offline.env, "push-snap", str(stores.bundle))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("already imported, nothing changed")
    assert cli(stores.offline.env, "list-pushed-snaps").stdout == before


@pytest.mark.parametrize("name", EXPORTED)
def test_snap_download_gives_the_online_bytes_and_stops_at_the_trust_check(
    stores: Stores, name: str, tmp_path: Path
) -> None:
    online = stores.online_downloads[name]
    offline = snap_download(stores.offline.url, name, cwd=tmp_path, timeout=60)
    assert online.stopped_at_trust_check, online.describe()
    assert offline.stopped_at_trust_check, offline.describe()
    assert offline.circular_key == online.circular_key == stores.root_key
    assert offline.revision == online.revision is not None
    assert offline.sha3_384 == online.sha3_384 is not None
    assert normalise_snap_output(offline.output, store_urls=[stores.offline.url]) == (
        normalise_snap_output(online.output, store_urls=[stores.online_url])
    )


def test_the_daemon_sees_what_it_saw_online(stores: Stores, tmp_path: Path) -> None:
    offline = daemon_outputs(stores.offline.url, tmp_path / "snapd.log")
    for command in DAEMON_COMMANDS:
        assert offline[command] == stores.online_daemon[command], " ".join(command)
    assert "hello-sim" in stores.online_daemon[("find", "hello")]
    assert "latest/edge:" in stores.online_daemon[("info", "hello-sim")]


def test_snap_install_gets_past_prerequisites_to_the_trust_check(
    stores: Stores, tmp_path: Path
) -> None:
    """hello-sim needs core22 and snapd, both imported: snapd's tasks run first, download
    it from the offline proxy and stop at the trust check, as they do online."""
    with snapd_daemon(stores.offline.url, log_path=tmp_path / "snapd.log") as snapd:
        done = snapd.run("install", "hello-sim")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: cannot perform the following tasks:",
        '- Fetch and check assertions for snap "snapd" (1) (circular assertions are not '
        f"expected: account-key ({stores.root_key}))",
    ], done.stderr


def test_a_snap_not_imported_is_not_found_at_once(stores: Stores, tmp_path: Path) -> None:
    # The upstream would hang any request: a timeout far below snapd's retries (and the
    # proxy's upstream timeout) shows that nothing waited on it.
    result = snap_download(stores.offline.url, "mid-app", cwd=tmp_path, timeout=20)
    assert result.not_found, result.describe()
    with httpx.Client(base_url=stores.offline.url, headers=DEVICE_HEADERS, timeout=20) as client:
        info = client.get("/v2/snaps/info/mid-app")
        assert info.status_code == 404
        assert info.json()["error-list"][0]["code"] == "resource-not-found"
        assertion = client.get("/v2/assertions/account/no-such-account")
        assert assertion.status_code == 404
        assert "error-list" in assertion.json()
    assert stores.upstream.connections == 0, stores.upstream.requests


def test_switching_modes_keeps_every_imported_and_cached_blob(stores: Stores) -> None:
    with httpx.Client(
        base_url=stores.offline.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as admin:

        def entries() -> list[tuple[str, str, int, bool]]:
            found = admin.get("/v1/cache/entries").json()["entries"]
            return sorted((e["sha3-384"], e["name"], e["size"], e["pinned"]) for e in found)

        before = entries()
        assert len(before) >= len(EXPORTED) + len(ESSENTIALS)
        assert cli(stores.offline.env, "disable-airgap-mode").returncode == 0
        assert cli(stores.offline.env, "enable-airgap-mode").returncode == 0
        wait_for_airgap(stores.offline)
        assert entries() == before


def test_a_deleted_snap_is_gone_from_find_info_and_downloads(
    stores: Stores, tmp_path: Path
) -> None:
    device = httpx.Client(base_url=stores.offline.url, headers=DEVICE_HEADERS, timeout=20)
    with device:
        info = device.get("/v2/snaps/info/tiny-tool").json()
        blob_url = info["channel-map"][0]["download"]["url"]
        assert device.get(blob_url).status_code == 200
        deleted = cli(stores.offline.env, "delete-pushed-snap", "tiny-tool")
        assert deleted.returncode == 0, deleted.stderr
        assert device.get("/v2/snaps/info/tiny-tool").status_code == 404
        found = device.get("/v2/snaps/find", params={"q": "tiny"}).json()
        assert found["results"] == []
        assert device.get(blob_url).status_code == 404
        download = snap_download(stores.offline.url, "tiny-tool", cwd=tmp_path, timeout=20)
        assert download.not_found, download.describe()
        listed = cli(stores.offline.env, "list-pushed-snaps").stdout
        assert "tiny-tool" not in listed and "hello-sim" in listed
        # One revision of another snap: that channel goes, the rest stays.
        one = cli(stores.offline.env, "delete-pushed-snap", "hello-sim", "--revision", "4")
        assert one.returncode == 0, one.stderr
        channels = device.get("/v2/snaps/info/hello-sim").json()["channel-map"]
        assert 4 not in {entry["revision"] for entry in channels}
        assert 1 in {entry["revision"] for entry in channels}
        # Imported again, it is back.
        again = cli(stores.offline.env, "push-snap", str(stores.bundle))
        assert again.returncode == 0 and "imported" in again.stdout, again.stderr
        assert device.get("/v2/snaps/info/tiny-tool").status_code == 200
        assert device.get(blob_url).status_code == 200
