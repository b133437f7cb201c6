"""Airgap mode in the split topology (each service its own process, nginx in front,
PostgreSQL): the device API answers from a bundle imported with ``push-snap`` (which writes
the revisions, assertions and downloads schemas in one transaction), through the revisions
service's internal API, and never contacts the upstream. The bundle is made up on the spot
(tests/support/offline.py), so no simulator is needed."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.offline.support import SilentUpstream, read_members
from tests.support.infra import running_split
from tests.support.offline import NAME, SNAP_ID, build_bundle
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS
from tests.support.proxy_cli import cli

pytestmark = pytest.mark.split
SIZE = 96 * 1024


@dataclass
class Split:
    url: str
    env: dict[str, str]
    bundle: Path
    sha3: str
    upstream: SilentUpstream


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Split]:
    root = tmp_path_factory.mktemp("airgap-split")
    bundle, root_key, sha3 = build_bundle(root, SIZE)
    upstream = SilentUpstream()
    settings = {
        "SNAPPROXY_UPSTREAM_URL": upstream.url,
        "SNAPPROXY_TRUSTED_ROOT_KEYS": str(root_key),
        "SNAPPROXY_ADMIN_TOKEN": ADMIN_TOKEN,
        "SNAPPROXY_CONFIG_POLL_INTERVAL": "0.5",
    }
    try:
        with running_split(root / "run", root / "data", settings) as topology:
            env = dict(topology.env)
            assert cli(env, "enable-airgap-mode").returncode == 0
            pushed = cli(env, "push-snap", str(bundle))
            assert pushed.returncode == 0, pushed.stderr
            proxy = Split(topology.gateway_url, env, bundle, sha3, upstream)
            wait_for_airgap(proxy)
            yield proxy
    finally:
        upstream.close()


def device(proxy: Split) -> httpx.Client:
    return httpx.Client(base_url=proxy.url, headers=DEVICE_HEADERS, timeout=20)


def wait_for_airgap(proxy: Split) -> None:
    deadline = time.monotonic() + 60
    with device(proxy) as client:
        while time.monotonic() < deadline:
            answer = client.get(f"/v2/snaps/info/{NAME}")
            if answer.headers.get("x-snapproxy-cache") == "airgap" and answer.status_code == 200:
                return
            time.sleep(0.5)
    raise AssertionError("airgap mode did not take effect in every service")


def refresh(client: httpx.Client, *actions: dict[str, object]) -> list[dict[str, object]]:
    body = {"context": [], "actions": list(actions), "fields": ["download", "revision"]}
    answer = client.post("/v2/snaps/refresh", json=body)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["results"])


def test_info_refresh_and_download_answer_from_the_import(split: Split) -> None:
    with device(split) as client:
        info = client.get(f"/v2/snaps/info/{NAME}", params={"fields": "revision,download"})
        (entry,) = info.json()["channel-map"]
        assert set(entry) == {"revision", "download", "channel"}  # the fields asked for
        assert entry["download"]["url"].startswith(split.url + "/api/v1/snaps/download/")
        blob = client.get(entry["download"]["url"])
        assert blob.status_code == 200
        assert hashlib.sha3_384(blob.content).hexdigest() == split.sha3
        (result,) = refresh(
            client, {"action": "install", "instance-key": "i-1", "name": NAME, "channel": "stable"}
        )
        assert result["result"] == "install" and result["effective-channel"] == "latest/stable"
        assert result["snap"]["download"]["sha3-384"] == split.sha3  # type: ignore[index]


def test_what_was_not_imported_gets_the_stores_not_found_shapes(split: Split) -> None:
    with device(split) as client:
        unknown, wrong_channel = refresh(
            client,
            {"action": "download", "instance-key": "d-1", "name": "mid-app"},
            {"action": "download", "instance-key": "d-2", "name": NAME, "channel": "edge"},
        )
        assert unknown["result"] == "error"
        assert unknown["error"]["code"] == "name-not-found"  # type: ignore[index]
        assert wrong_channel["error"]["code"] == "revision-not-found"  # type: ignore[index]
        releases = wrong_channel["error"]["extra"]["releases"]  # type: ignore[index]
        assert releases == [{"architecture": "amd64", "channel": "latest/stable"}]
        missing = client.get(f"/api/v1/snaps/download/{SNAP_ID}_2.snap")
        assert missing.status_code == 404 and "error-list" in missing.json()
        assert client.get("/v2/snaps/info/mid-app").status_code == 404
    assert split.upstream.connections == 0, split.upstream.requests


def test_search_sections_and_names_work_offline(split: Split) -> None:
    with device(split) as client:
        found = client.get("/v2/snaps/find", params={"q": "made up offline"}).json()
        assert [r["name"] for r in found["results"]] == [NAME]
        assert client.get("/v2/snaps/find", params={"q": "nothing like it"}).json() == {
            "results": [],
            "error-list": [],
        }
        by_category = client.get("/v2/snaps/find", params={"category": "development"}).json()
        assert [r["name"] for r in by_category["results"]] == [NAME]
        sections = client.get("/api/v1/snaps/sections").json()
        assert sections == {"_embedded": {"clickindex:sections": [{"name": "development"}]}}
        names = client.get("/api/v1/snaps/names").json()["_embedded"]["clickindex:package"]
        assert [(p["package_name"], p["version"]) for p in names] == [(NAME, "1.0")]


def test_assertions_are_the_imported_bytes(split: Split) -> None:
    members = read_members(split.bundle)
    declaration = next(data for name, data in members.items() if b"type: snap-declaration" in data)
    with device(split) as client:
        served = client.get(f"/v2/assertions/snap-declaration/16/{SNAP_ID}")
    assert served.status_code == 200
    assert served.content == declaration


def test_a_deleted_snap_is_gone(split: Split) -> None:
    with device(split) as client:
        url = client.get(f"/v2/snaps/info/{NAME}").json()["channel-map"][0]["download"]["url"]
        deleted = cli(split.env, "delete-pushed-snap", NAME)
        assert deleted.returncode == 0, deleted.stderr
        assert client.get(f"/v2/snaps/info/{NAME}").status_code == 404
        assert client.get("/v2/snaps/find", params={"q": "offline"}).json()["results"] == []
        assert client.get(url).status_code == 404
        assert client.get(f"/v2/assertions/snap-declaration/16/{SNAP_ID}").status_code == 404
        again = cli(split.env, "push-snap", str(split.bundle))
        assert again.returncode == 0, again.stderr
        assert client.get(url).status_code == 200
    assert split.upstream.connections == 0, split.upstream.requests
