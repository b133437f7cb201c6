"""The device API through the proxy, in both topologies, with the store simulator upstream.

What snapd needs of it (docs/device-api.md): every download URL a refresh or info answer
hands out points at the proxy, every ``instance-key`` and ``key`` is echoed, the revisions an
answer reveals are recorded (so a download works with no refresh before it), info and find
are served from the cache on a second call, upstream 404s are cached too, and the exact
Content-Types snapd checks are kept.
"""

from __future__ import annotations

import subprocess
import uuid
from typing import Any

import httpx
import pytest

from tests.support.device_api import (
    REFRESH,
    assert_store_error,
    context_entry,
    download,
    download_urls,
    install,
    refresh_action,
    refresh_body,
    sha3,
    sim_requests,
    snap_id,
)
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

# -- refresh --------------------------------------------------------------------------------


def test_refresh_hands_out_proxy_urls_and_echoes_every_key(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    hello, tiny = snap_id(sim, "hello-sim"), snap_id(sim, "tiny-tool")
    parallel = f"{hello}:Zm9vYmFyYmF6cXV4"  # a parallel instance's key: snap-id:hash
    body = refresh_body(
        [
            refresh_action(hello, channel="latest/candidate"),
            refresh_action(hello, key=parallel),
            refresh_action(tiny),
            install("mid-app", "install-1", channel="beta"),
            install("no-such-snap", "install-2"),
            download("hello-sim", "download-1", revision=7),
            {
                "action": "fetch-assertions",
                "key": "Zm9vYmFy",
                "assertions": [{"type": "snap-declaration", "primary-key": ["16", hello]}],
            },
        ],
        context=[
            context_entry(hello, 1),
            context_entry(hello, 1, "2.0/stable", key=parallel),
            context_entry(tiny, 1),
        ],
    )
    with any_proxy.client() as client:
        response = client.post(REFRESH, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    answer = response.json()
    results = {r.get("instance-key") or r.get("key"): r for r in answer["results"]}
    assert set(results) == {
        hello, parallel, tiny, "install-1", "install-2", "download-1", "Zm9vYmFy",
    }  # fmt: skip
    assert results[hello]["snap"]["revision"] == 3  # latest/candidate
    assert results[parallel]["snap"]["revision"] == 5  # 2.0/stable
    assert results[tiny]["snap"]["revision"] == 1
    assert results["install-1"]["snap"]["revision"] == 2
    assert results["download-1"]["snap"]["revision"] == 7
    assert results["install-2"]["result"] == "error"
    assert results["install-2"]["name"] == "no-such-snap"
    assert results["install-2"]["error"]["code"] == "name-not-found"

    urls = download_urls(answer)
    assert len(urls) == 5
    for result in answer["results"]:
        if result["result"] in ("refresh", "install", "download"):
            snap = result["snap"]
            expected = f"/api/v1/snaps/download/{snap['snap-id']}_{snap['revision']}.snap"
            assert snap["download"]["url"] == any_proxy.url + expected
            assert snap["download"]["deltas"] == []
    streams = results["Zm9vYmFy"]["assertion-stream-urls"]
    assert streams and all(url.startswith(any_proxy.url + "/v2/assertions/") for url in streams)
    # The blobs live behind the simulator's CDN; no answer may send a device there.
    assert sim.cdn_url not in response.text
    assert not any(url.startswith(sim.api_url) for url in [*urls, *streams])


def test_recorded_revision_downloads_without_asking_upstream(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    """A refresh records the revision; the download then needs no lookup upstream."""
    with any_proxy.client() as client:
        body = refresh_body([install("tiny-tool", "install-1", channel="edge")])
        answer = client.post(REFRESH, json=body)
        snap = answer.json()["results"][0]["snap"]
        assert snap["revision"] == 2
        before = sim.stats()["requests"].get("POST /v2/snaps/refresh", 0)
        blob = client.get(snap["download"]["url"].removeprefix(any_proxy.url))
    assert blob.status_code == 200
    assert sha3(blob.content) == snap["download"]["sha3-384"]
    assert len(blob.content) == snap["download"]["size"]
    assert sim.stats()["requests"].get("POST /v2/snaps/refresh", 0) == before


def test_download_with_no_refresh_before_it(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    """hello-sim revision 2 (arm64, latest/stable) is never shown to these proxies by any
    other test here (they ask as amd64, or for arm64 channels that hold other revisions)."""
    expected = sim.revision("hello-sim", 2)
    url = f"/api/v1/snaps/download/{snap_id(sim, 'hello-sim')}_2.snap"
    lookups = sim.stats()["requests"].get("POST /v2/snaps/refresh", 0)
    with any_proxy.client(**{"X-Ubuntu-Architecture": "arm64"}) as client:
        head = client.head(url)
        blob = client.get(url)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == expected["size"]
    assert blob.status_code == 200
    assert sha3(blob.content) == expected["sha3-384"]
    # The proxy did not know the revision: it asked upstream what it is (a refresh by revision).
    assert sim.stats()["requests"].get("POST /v2/snaps/refresh", 0) == lookups + 1


def test_public_url_comes_from_the_request_when_not_configured(
    embedded: ProxyUnderTest, sim: SimHandle
) -> None:
    """Embedded without SNAPPROXY_PUBLIC_URL: URLs use the Host the device reached."""
    with embedded.client(Host="snapproxy.example:8123") as client:
        answer = client.post(REFRESH, json=refresh_body([install("hello-sim", "install-1")]))
    (url,) = download_urls(answer.json())
    assert url.startswith("http://snapproxy.example:8123/api/v1/snaps/download/")


# -- info, find, sections, names ------------------------------------------------------------


def test_info_channel_map_points_at_the_proxy(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    with any_proxy.client() as client:
        info = client.get("/v2/snaps/info/hello-sim", params={"architecture": "amd64"})
    assert info.status_code == 200
    assert info.headers["content-type"] == "application/json"
    channel_map = info.json()["channel-map"]
    assert {entry["channel"]["name"] for entry in channel_map} >= {"stable", "2.0/stable"}
    for entry in channel_map:
        expected = f"/api/v1/snaps/download/{entry['snap-id']}_{entry['revision']}.snap"
        assert entry["download"]["url"] == any_proxy.url + expected
    assert sim.cdn_url not in info.text


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v2/snaps/info/mid-app", {"fields": "revision,version,channel-map"}),
        ("/v2/snaps/find", {"q": "hello", "fields": "revision,version"}),
    ],
    ids=["info", "find"],
)
def test_second_call_is_served_from_cache(
    any_proxy: ProxyUnderTest, sim: SimHandle, path: str, params: dict[str, str]
) -> None:
    # A parameter no other test sends makes the first call a miss (upstream ignores it).
    params = {**params, "architecture": "amd64", "nonce": uuid.uuid4().hex}
    with any_proxy.client() as client:
        before = sim_requests(sim)
        first = client.get(path, params=params)
        asked = sim_requests(sim)
        second = client.get(path, params=params)
    assert first.status_code == second.status_code == 200
    assert first.headers["x-snapproxy-cache"] == "miss"
    assert second.headers["x-snapproxy-cache"] == "hit"
    assert asked == before + 1
    assert sim_requests(sim) == asked
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"] == "application/json"


def test_upstream_not_found_is_cached(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    name = f"missing-{uuid.uuid4().hex[:12]}"
    with any_proxy.client() as client:
        before = sim_requests(sim)
        first = client.get(f"/v2/snaps/info/{name}")
        asked = sim_requests(sim)
        second = client.get(f"/v2/snaps/info/{name}")
    for response in (first, second):
        assert assert_store_error(response, 404)["code"] == "resource-not-found"
    assert (first.headers["x-snapproxy-cache"], second.headers["x-snapproxy-cache"]) == (
        "miss",
        "hit",
    )
    assert asked == before + 1
    assert sim_requests(sim) == asked
    # How briefly it is cached is in test_offline.py (a proxy with short TTLs).


@pytest.mark.parametrize(
    ("path", "params", "media_type"),
    [
        ("/v2/snaps/find", {"q": "app"}, "application/json"),
        ("/v2/snaps/find", {"q": "zzzz-nothing"}, "application/json"),
        ("/v2/snaps/find", {"category": "featured", "channel": "stable"}, "application/json"),
        ("/api/v1/snaps/sections", {}, "application/hal+json"),
        ("/api/v1/snaps/names", {"confinement": "strict,classic"}, "application/hal+json"),
    ],
)
def test_exact_content_types(
    any_proxy: ProxyUnderTest, sim: SimHandle, path: str, params: dict[str, str], media_type: str
) -> None:
    """snapd compares these Content-Types exactly (no charset); fresh and cached alike."""
    headers = {"Accept": media_type}
    with any_proxy.client(**headers) as client:
        answers = [client.get(path, params=params) for _ in range(2)]
    direct = httpx.get(sim.api_url + path, params=params, headers=headers).json()
    for answer in answers:
        assert answer.status_code == 200
        assert answer.headers["content-type"] == media_type
        if "results" in direct:  # find: the same snaps (download URLs differ)
            assert [r["name"] for r in answer.json()["results"]] == [
                r["name"] for r in direct["results"]
            ]
        else:
            assert answer.json() == direct
    assert answers[1].headers["x-snapproxy-cache"] == "hit"


# -- client setup ---------------------------------------------------------------------------


def test_client_setup_script_names_the_proxy(any_proxy: ProxyUnderTest, tmp_path: Any) -> None:
    with httpx.Client(base_url=any_proxy.url) as client:
        response = client.get("/client-setup.sh")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/x-shellscript")
    script = response.text
    assert script.startswith("#!/bin/sh\n")
    assert f"Environment=SNAPPY_FORCE_API_URL={any_proxy.url}/\n" in script
    assert "/etc/systemd/system/snapd.service.d/snapproxy.conf" in script
    path = tmp_path / "client-setup.sh"
    path.write_text(script)
    subprocess.run(["sh", "-n", str(path)], check=True)  # it parses
