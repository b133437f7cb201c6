"""Private blobs: the download URL needs credentials, the CDN needs the grant it hands out.

Public blobs are untouched (``test_downloads.py`` and ``test_faults.py`` cover them); here
a query string on a public blob is ignored, as before grants existed.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.sim.helpers import PRIVATE_ID, device_session, one
from tests.support.device_api import install
from tests.support.sim import SimHandle
from tools.snap_store_sim.access import USER_AUTH_HEADERS, grant_query, load_secret
from tools.snap_store_sim.layout import DataDir

UNKNOWN_BLOB = f"{PRIVATE_ID}_99.snap"


def _download(api: httpx.Client, name: str, channel: str = "stable") -> dict[str, Any]:
    snap = one(api, install(name, channel=channel), headers=USER_AUTH_HEADERS)["snap"]
    download: dict[str, Any] = snap["download"]
    return download


def _blob_name(download: dict[str, Any]) -> str:
    return str(download["url"]).rsplit("/", 1)[1]


def _granted_location(api: httpx.Client, url: str, headers: dict[str, str]) -> str:
    redirect = api.get(url, headers=headers)
    assert redirect.status_code == 302, redirect.text
    location: str = redirect.headers["location"]
    return location


def test_download_url_without_credentials_is_an_unknown_blob(
    sim: SimHandle, api: httpx.Client, private_snap: str
) -> None:
    url = _download(api, private_snap)["url"]
    unknown_url = url.rsplit("/", 1)[0] + "/" + UNKNOWN_BLOB
    for method in ("GET", "HEAD"):
        for headers in ({}, {"Authorization": "Bearer x"}, {"X-Device-Authorization": "junk"}):
            hidden = api.request(method, url, headers=headers)
            unknown = api.request(method, unknown_url, headers=headers)
            assert hidden.status_code == unknown.status_code == 404
            assert "location" not in hidden.headers
            assert hidden.headers["content-type"] == unknown.headers["content-type"]
            if method == "GET":
                name = _blob_name({"url": url})
                assert hidden.json() == {
                    "error-list": [{"code": "not-found", "message": f"No snap file '{name}'."}]
                }
                assert unknown.json()["error-list"][0]["message"] == (
                    f"No snap file '{UNKNOWN_BLOB}'."
                )


def test_download_with_credentials_follows_to_the_cdn(
    sim: SimHandle, api: httpx.Client, cdn: httpx.Client, private_snap: str
) -> None:
    download = _download(api, private_snap)
    session = f'Macaroon root="{device_session(api)}"'
    for headers in (USER_AUTH_HEADERS, {"X-Device-Authorization": session}):
        location = _granted_location(api, download["url"], headers)
        parts = urlsplit(location)
        assert f"{parts.scheme}://{parts.netloc}" == sim.cdn_url
        assert parts.path == f"/download-origin/{_blob_name(download)}"
        assert set(parse_qs(parts.query)) == {"expires", "grant"}
        blob = api.get(download["url"], headers=headers, follow_redirects=True)
        assert blob.status_code == 200
        assert hashlib.sha3_384(blob.content).hexdigest() == download["sha3-384"]
        head = api.head(download["url"], headers=headers, follow_redirects=True)
        assert head.status_code == 200
        assert head.headers["content-length"] == str(download["size"])
        part = cdn.get(location, headers={"Range": "bytes=10-19"})  # the grant alone suffices
        assert part.status_code == 206 and part.content == blob.content[10:20]


def test_cdn_refuses_private_blobs_without_a_valid_grant(
    sim: SimHandle, api: httpx.Client, cdn: httpx.Client, private_snap: str
) -> None:
    stable, edge = _download(api, private_snap), _download(api, private_snap, "edge")
    stable_path = f"/download-origin/{_blob_name(stable)}"
    edge_path = f"/download-origin/{_blob_name(edge)}"
    grant = urlsplit(_granted_location(api, stable["url"], USER_AUTH_HEADERS)).query
    params = {key: value[0] for key, value in parse_qs(grant).items()}
    later = str(int(params["expires"]) + 60)
    flipped = params["grant"][:-1] + ("0" if params["grant"][-1] != "0" else "1")
    secret = load_secret(DataDir(sim.data_dir))
    refused = [
        stable_path,  # no grant
        stable_path + "?" + urlencode({**params, "grant": flipped}),  # tampered grant
        stable_path + "?" + urlencode({**params, "expires": later}),  # tampered expiry
        stable_path + "?expires=" + params["expires"],  # grant missing
        stable_path + "?" + grant + "&grant=" + params["grant"],  # two grants
        edge_path + "?" + grant,  # the grant of another blob
        stable_path + "?" + grant_query(secret, _blob_name(stable), now=0),  # expired
        stable_path + "?" + grant_query(b"another secret", _blob_name(stable)),  # other sim
    ]
    for path in refused:
        for method in ("GET", "HEAD"):
            response = cdn.request(method, path, headers=USER_AUTH_HEADERS)
            assert response.status_code == 403, (method, path)
            assert response.headers.get("accept-ranges") is None  # no blob metadata leaks
        assert cdn.get(path).json()["error-list"][0]["code"] == "forbidden"
    assert cdn.get(stable_path + "?" + grant).status_code == 200
    own = urlsplit(_granted_location(api, edge["url"], USER_AUTH_HEADERS)).query
    assert cdn.get(edge_path + "?" + own).status_code == 200


def test_public_blobs_need_no_grant(api: httpx.Client, cdn: httpx.Client) -> None:
    download = one(api, install("hello-sim"))["snap"]["download"]
    redirect = api.get(download["url"])
    assert redirect.status_code == 302 and "?" not in redirect.headers["location"]
    path = f"/download-origin/{_blob_name(download)}"
    assert cdn.get(path).status_code == 200
    assert cdn.get(path + "?grant=nonsense&expires=1").status_code == 200


@pytest.mark.parametrize("credentials", [True, False])
def test_stats_say_who_asked_for_a_private_blob(
    sim: SimHandle, api: httpx.Client, cdn: httpx.Client, private_snap: str, credentials: bool
) -> None:
    download = _download(api, private_snap)
    file_name = f"{private_snap}_1.snap"
    sim.reset()
    headers = USER_AUTH_HEADERS if credentials else {}
    response = api.get(download["url"], headers=headers, follow_redirects=True)
    assert response.status_code == (200 if credentials else 404)
    cdn.get(f"/download-origin/{_blob_name(download)}")  # someone who only knows the name
    stats = sim.stats()
    assert stats["blobs"][file_name] == {
        "api-granted": int(credentials),
        "api-refused": int(not credentials),
        "cdn-refused": 1,
        "requests": int(credentials),
        "bytes": download["size"] if credentials else 0,
    }
    assert stats["credentials"] == (
        {f"authorization: {USER_AUTH_HEADERS['Authorization']}": 1} if credentials else {}
    )
    public = one(api, install("tiny-tool"))["snap"]["download"]
    api.get(public["url"], follow_redirects=True)
    assert set(sim.stats()["blobs"]["tiny-tool_1.snap"]) == {"requests", "bytes"}
