"""Download redirect, the CDN (Range/206, HEAD, ETag), blob integrity, stats."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from tests.sim.helpers import one
from tests.support.device_api import install
from tests.support.sim import SimHandle


def _snap(api: httpx.Client, name: str, **extra: Any) -> dict[str, Any]:
    snap: dict[str, Any] = one(api, install(name, **extra))["snap"]
    return snap


def _blob_path(snap: dict[str, Any]) -> str:
    return "/download-origin/" + str(snap["download"]["url"]).rsplit("/", 1)[1]


def test_download_redirects_to_cdn(sim: SimHandle, api: httpx.Client) -> None:
    snap = _snap(api, "hello-sim")
    url = snap["download"]["url"]
    assert url.startswith(sim.api_url + "/api/v1/snaps/download/")
    redirect = httpx.get(url)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == sim.cdn_url + _blob_path(snap)
    head = httpx.head(url, follow_redirects=True)
    assert head.status_code == 200 and head.url == httpx.URL(sim.cdn_url + _blob_path(snap))


@pytest.mark.parametrize("name", ["hello-sim", "tiny-tool", "mid-app", "big-app"])
def test_blob_sha3_matches(api: httpx.Client, name: str) -> None:
    snap = _snap(api, name)
    digest = hashlib.sha3_384()
    size = 0
    url = snap["download"]["url"]
    with httpx.stream("GET", url, follow_redirects=True, timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(snap["download"]["size"])
        for chunk in response.iter_bytes():
            digest.update(chunk)
            size += len(chunk)
    assert size == snap["download"]["size"]
    assert digest.hexdigest() == snap["download"]["sha3-384"]
    assert response.headers["etag"] == f'"{digest.hexdigest()}"'


def test_blob_is_a_squashfs_snap(api: httpx.Client) -> None:
    snap = _snap(api, "hello-sim")
    blob = httpx.get(snap["download"]["url"], follow_redirects=True).content
    assert blob[:4] == b"hsqs"


def test_ranges_and_head(sim: SimHandle, api: httpx.Client, cdn: httpx.Client) -> None:
    snap = _snap(api, "mid-app")
    path, size = _blob_path(snap), int(snap["download"]["size"])
    full = cdn.get(path).content
    part = cdn.get(path, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    assert part.headers["content-length"] == "100"
    tail = cdn.get(path, headers={"Range": f"bytes={size - 10}-"})
    assert tail.status_code == 206 and tail.content == full[-10:]
    suffix = cdn.get(path, headers={"Range": "bytes=-5"})
    assert suffix.status_code == 206 and suffix.content == full[-5:]
    bad = cdn.get(path, headers={"Range": f"bytes={size}-"})
    assert bad.status_code == 416 and bad.headers["content-range"] == f"bytes */{size}"
    head = cdn.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(size)
    assert head.headers["accept-ranges"] == "bytes" and head.headers["etag"]
    cached = cdn.get(path, headers={"If-None-Match": head.headers["etag"]})
    assert cached.status_code == 304
    stale = cdn.get(path, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and len(stale.content) == size
    assert cdn.get("/download-origin/nope_1.snap").status_code == 404
    assert cdn.get("/elsewhere").status_code == 404


def test_stats_count_requests_and_bytes(sim: SimHandle, api: httpx.Client) -> None:
    snap = _snap(api, "mid-app")
    url = snap["download"]["url"]
    size = int(snap["download"]["size"])
    httpx.get(url, follow_redirects=True)
    httpx.get(url, follow_redirects=True, headers={"Range": "bytes=0-999"})
    httpx.head(url, follow_redirects=True)
    stats = sim.stats()
    assert stats["requests"]["POST /v2/snaps/refresh"] == 1
    assert stats["requests"]["GET /api/v1/snaps/download/{file}"] == 2
    assert stats["requests"]["HEAD /api/v1/snaps/download/{file}"] == 1
    assert stats["requests"]["GET /download-origin/{file}"] == 2
    assert stats["requests"]["HEAD /download-origin/{file}"] == 1
    assert stats["blobs"] == {"mid-app_1.snap": {"requests": 3, "bytes": size + 1000}}
    assert stats["actions"] == {"install": 1}
    sim.reset()
    after = sim.stats()
    assert after["requests"] == {} and after["blobs"] == {} and after["actions"] == {}


def test_lazy_build_waits(sim: SimHandle, api: httpx.Client) -> None:
    """huge-data is built in the background; asking for it simply waits."""
    snap = _snap(api, "huge-data")
    assert snap["download"]["size"] > 60 * 1024 * 1024
    catalogue = sim.wait_built()
    assert not [r for s in catalogue["snaps"] for r in s["revisions"] if r["build"]]
