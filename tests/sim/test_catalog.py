"""info, find, sections, names, categories, cohorts, auth, unknown paths."""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest

from tests.sim.helpers import HELLO_ID
from tests.support.sim import SimHandle


def test_info_channel_map(api: httpx.Client) -> None:
    response = api.get("/v2/snaps/info/hello-sim", params={"architecture": "amd64"},
                       headers={"Accept": ""})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["snap-store-version"] == "58"
    info = response.json()
    assert info["name"] == "hello-sim" and info["snap-id"] == HELLO_ID
    assert info["snap"]["publisher"]["username"] == "snapsim"
    channels = {
        (e["channel"]["track"], e["channel"]["risk"]): e["revision"] for e in info["channel-map"]
    }
    assert channels == {
        ("latest", "stable"): 1, ("latest", "candidate"): 3, ("latest", "beta"): 3,
        ("latest", "edge"): 4, ("2.0", "stable"): 5, ("2.0", "edge"): 7,
    }  # fmt: skip
    first = info["channel-map"][0]
    assert first["channel"]["architecture"] == "amd64" and first["channel"]["name"] == "stable"
    assert first["download"]["url"].startswith(api.base_url.scheme + "://")
    for entry in info["channel-map"]:
        datetime.fromisoformat(entry["channel"]["released-at"])
        assert {"version", "confinement", "epoch", "type", "base", "download"} <= set(entry)
    names = [e["channel"]["name"] for e in info["channel-map"]]
    assert "2.0/stable" in names


def test_info_architecture_and_fields(api: httpx.Client) -> None:
    arm = api.get("/v2/snaps/info/tiny-tool", params={"architecture": "arm64"}).json()
    assert {e["channel"]["architecture"] for e in arm["channel-map"]} == {"arm64"}
    only = api.get("/v2/snaps/info/hello-sim", params={"fields": "channel-map"}).json()
    assert only["channel-map"] and set(only["channel-map"][0]) == {"channel"}
    none = api.get("/v2/snaps/info/big-app", params={"architecture": "arm64"}).json()
    assert none["channel-map"] == []


def test_info_not_found(api: httpx.Client) -> None:
    response = api.get("/v2/snaps/info/no-such-snap")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error-list": [
            {"code": "resource-not-found",
             "message": "No snap named 'no-such-snap' found in series '16'."}
        ]
    }  # fmt: skip


def test_find(api: httpx.Client) -> None:
    response = api.get("/v2/snaps/find", params={"q": "hello", "channel": "stable"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"  # exact, no charset
    body = response.json()
    assert body["error-list"] == []
    assert [r["name"] for r in body["results"]] == ["hello-sim"]
    result = body["results"][0]
    assert result["revision"]["revision"] == 1 and result["revision"]["channel"] == "stable"
    assert result["snap"]["summary"] and result["snap-id"] == HELLO_ID


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "mid-app"}, ["mid-app"]),
        ({"name": "hello*"}, ["hello-sim"]),
        ({"category": "science"}, ["huge-data"]),
        ({"q": "tiny", "architecture": "s390x"}, ["tiny-tool"]),
        ({"q": "big", "architecture": "arm64"}, []),
        ({"q": "zzz-nothing"}, []),
    ],
)
def test_find_filters(api: httpx.Client, params: dict[str, str], expected: list[str]) -> None:
    names = [r["name"] for r in api.get("/v2/snaps/find", params=params).json()["results"]]
    assert names == expected


def test_find_bad_query(api: httpx.Client) -> None:
    response = api.get("/v2/snaps/find", params={"q": "a*b"})
    assert response.status_code == 400
    assert response.json()["error-list"][0]["code"] == "bad-query"


def test_sections_are_hal_json(api: httpx.Client) -> None:
    response = api.get("/api/v1/snaps/sections")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/hal+json"
    sections = response.json()["_embedded"]["clickindex:sections"]
    assert {"name": "featured"} in sections


def test_names_catalogue_prefix(api: httpx.Client) -> None:
    response = api.get("/api/v1/snaps/names", params={"confinement": "strict,classic"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/hal+json"
    assert response.content.startswith(b'{"_embedded":{"clickindex:package":[')
    packages = response.json()["_embedded"]["clickindex:package"]
    hello = next(p for p in packages if p["package_name"] == "hello-sim")
    assert hello["version"] == "1.0" and hello["apps"] == ["hello-sim"]


def test_categories(api: httpx.Client) -> None:
    response = api.get("/v2/snaps/categories")
    assert response.headers["content-type"] == "application/json"
    assert {"name": "featured"} in response.json()["categories"]


def test_device_session_endpoints(api: httpx.Client) -> None:
    nonce = api.post("/api/v1/snaps/auth/nonces")
    assert nonce.status_code == 200 and nonce.json()["nonce"]
    body = {"device-session-request": "x", "serial-assertion": "y", "model-assertion": "z"}
    session = api.post("/api/v1/snaps/auth/sessions", json=body)
    assert session.status_code == 200 and session.json()["macaroon"]


@pytest.mark.parametrize(
    "body", [b"", b"{", b"[]", b'{"device-session-request": ""}', b'{"serial-assertion": 1}']
)
def test_sessions_bad_body(api: httpx.Client, body: bytes) -> None:
    response = api.post("/api/v1/snaps/auth/sessions", content=body)
    assert response.status_code == 400
    assert response.json()["error-list"][0]["code"] == "invalid-request"


def test_cohorts(api: httpx.Client) -> None:
    found = api.post("/v2/cohorts", json={"snaps": ["hello-sim"]})
    assert found.status_code == 200 and found.json()["cohort-keys"]["hello-sim"]
    assert api.post("/v2/cohorts", json={"snaps": ["nope"]}).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/no/such/path", 404),
        ("GET", "/v2/snaps/refresh", 405),
        ("DELETE", "/v2/snaps/info/hello-sim", 405),
        ("GET", "/api/v1/snaps/download/nope_1.snap", 404),
    ],
)
def test_unknown_paths_use_store_shape(
    api: httpx.Client, method: str, path: str, status: int
) -> None:
    response = api.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers["snap-store-version"] == "58"
    assert response.json()["error-list"][0]["code"]


def test_root_head_has_store_version(sim: SimHandle) -> None:
    response = httpx.head(sim.api_url + "/")
    assert response.status_code == 200 and int(response.headers["snap-store-version"]) >= 20
