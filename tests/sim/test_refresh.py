"""POST /v2/snaps/refresh: selection, instance keys, errors, fetch-assertions, bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.assertions import parse_stream
from tests.sim.helpers import HELLO_ID, STORE_SNAP_FIELDS, one, refresh
from tests.support.device_api import install
from tests.support.sim import SimHandle
from tools.snap_store_sim.ids import snap_id_for


@pytest.mark.parametrize(
    ("channel", "revision", "effective"),
    [
        (None, 1, "latest/stable"),
        ("stable", 1, "latest/stable"),
        ("candidate", 3, "latest/candidate"),
        ("beta", 3, "latest/beta"),
        ("latest/edge", 4, "latest/edge"),
        ("2.0/stable", 5, "2.0/stable"),
        ("2.0", 5, "2.0/stable"),
        ("2.0/beta", 5, "2.0/stable"),
        ("2.0/edge", 7, "2.0/edge"),
    ],
)
def test_install_channel_selection(
    api: httpx.Client, channel: str | None, revision: int, effective: str
) -> None:
    extra = {"channel": channel} if channel else {}
    result = one(api, install("hello-sim", **extra))
    assert result["result"] == "install"
    assert result["snap"]["revision"] == revision
    assert result["effective-channel"] == effective
    assert result["snap-id"] == HELLO_ID and result["name"] == "hello-sim"


def test_risk_falls_through_to_more_stable(api: httpx.Client) -> None:
    assert one(api, install("mid-app", channel="candidate"))["snap"]["revision"] == 1
    assert one(api, install("mid-app", channel="edge"))["snap"]["revision"] == 2
    edge = one(api, install("mid-app", channel="edge"))
    assert edge["effective-channel"] == "latest/beta"


@pytest.mark.parametrize(
    ("headers", "name", "channel", "revision"),
    [
        ({"Snap-Device-Architecture": "arm64"}, "hello-sim", "stable", 2),
        ({"Snap-Device-Architecture": "arm64"}, "hello-sim", "latest/edge", 2),
        ({"Snap-Device-Architecture": "arm64"}, "hello-sim", "2.0", 6),
        ({"Snap-Device-Architecture": "arm64"}, "tiny-tool", "stable", 1),
        ({"Snap-Device-Architecture": "s390x"}, "tiny-tool", "edge", 2),
        ({"X-Ubuntu-Architecture": "arm64"}, "mid-app", "stable", 3),
    ],
)
def test_architecture_selection(
    sim: SimHandle, headers: dict[str, str], name: str, channel: str, revision: int
) -> None:
    with httpx.Client(base_url=sim.api_url, headers=headers, timeout=30) as client:
        result = one(client, install(name, channel=channel))
    assert result["snap"]["revision"] == revision


def test_all_arch_revision_reports_all(api: httpx.Client) -> None:
    assert one(api, install("tiny-tool"))["snap"]["architectures"] == ["all"]


def test_revision_selection(api: httpx.Client) -> None:
    result = one(api, install("hello-sim", revision=4))
    assert result["snap"]["revision"] == 4 and result["snap"]["version"] == "1.2"
    pinned = one(api, {"action": "download", "instance-key": "download-1", "name": "hello-sim",
                       "revision": 5})  # fmt: skip
    assert pinned["result"] == "download" and pinned["snap"]["revision"] == 5


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (install("no-such-snap"), "name-not-found"),
        (install("hello-sim", revision=2), "revision-not-found"),  # an arm64 revision
        (install("hello-sim", revision=99), "revision-not-found"),
        (install("hello-sim", channel="3.0/stable"), "revision-not-found"),
    ],
)
def test_action_errors(api: httpx.Client, action: dict[str, Any], code: str) -> None:
    result = one(api, action)
    assert result["result"] == "error"
    assert result["instance-key"] == action["instance-key"]
    assert result["name"] == action["name"]
    assert result["error"]["code"] == code and result["error"]["message"]
    if code == "revision-not-found":
        releases = result["error"]["extra"]["releases"]
        assert {"architecture": "amd64", "channel": "latest/stable"} in releases
        assert {"architecture": "arm64", "channel": "2.0/stable"} in releases


def test_arch_without_builds_is_revision_not_found(sim: SimHandle) -> None:
    headers = {"Snap-Device-Architecture": "arm64"}
    with httpx.Client(base_url=sim.api_url, headers=headers, timeout=30) as client:
        result = one(client, install("big-app"))
    assert result["error"]["code"] == "revision-not-found"
    assert result["error"]["extra"]["releases"] == [
        {"architecture": "amd64", "channel": "latest/stable"},
        {"architecture": "amd64", "channel": "latest/edge"},
    ]


def test_instance_keys_are_echoed_in_order(api: httpx.Client) -> None:
    keys = ["install-1", "download-7", "weird key/ü", "install-2"]
    actions = [
        install("hello-sim", keys[0]),
        {"action": "download", "instance-key": keys[1], "name": "tiny-tool"},
        install("nope", keys[2]),
        install("mid-app", keys[3], channel="beta"),
    ]
    results = refresh(api, actions)["results"]
    assert [r["instance-key"] for r in results] == keys
    assert [r["result"] for r in results] == ["install", "download", "error", "install"]


def _ctx(revision: int, channel: str = "stable", key: str = HELLO_ID) -> dict[str, Any]:
    return {
        "snap-id": HELLO_ID,
        "instance-key": key,
        "revision": revision,
        "tracking-channel": channel,
        "epoch": {"read": [0], "write": [0]},
        "refreshed-date": "2024-01-01T00:00:00.000000000Z",
    }


def _refresh_action(key: str = HELLO_ID, **extra: Any) -> dict[str, Any]:
    return {"action": "refresh", "instance-key": key, "snap-id": HELLO_ID, **extra}


def test_refresh_same_revision_returns_it(api: httpx.Client) -> None:
    result = one(api, _refresh_action(), context=[_ctx(1)])
    assert result["result"] == "refresh" and result["snap"]["revision"] == 1


def test_refresh_follows_tracking_channel_and_action_channel(api: httpx.Client) -> None:
    assert one(api, _refresh_action(), context=[_ctx(1, "edge")])["snap"]["revision"] == 4
    moved = one(api, _refresh_action(channel="beta"), context=[_ctx(1, "edge")])
    assert moved["snap"]["revision"] == 3
    pinned = one(api, _refresh_action(revision=5), context=[_ctx(1)])
    assert pinned["snap"]["revision"] == 5


def test_refresh_parallel_instance_key(api: httpx.Client) -> None:
    key = f"{HELLO_ID}:AbCdEf_-123"
    result = one(api, _refresh_action(key), context=[_ctx(1, key=key)])
    assert result["instance-key"] == key and result["result"] == "refresh"


def test_refresh_errors(api: httpx.Client) -> None:
    unknown = {"action": "refresh", "instance-key": "abc", "snap-id": "A" * 32}
    context = [{"snap-id": "A" * 32, "instance-key": "abc", "revision": 3}]
    result = one(api, unknown, context=context)
    assert result["error"]["code"] == "id-not-found" and result["instance-key"] == "abc"
    orphan = one(api, _refresh_action())
    assert orphan["result"] == "error" and orphan["instance-key"] == HELLO_ID


def test_store_snap_shape(sim: SimHandle) -> None:
    headers = {"Snap-Device-Architecture": "amd64", "Host": "store.example:4242"}
    with httpx.Client(base_url=sim.api_url, headers=headers, timeout=30) as client:
        snap = one(client, install("mid-app"))["snap"]
    assert set(snap) >= STORE_SNAP_FIELDS
    assert snap["download"]["url"] == (
        f"http://store.example:4242/api/v1/snaps/download/{snap_id_for('mid-app')}_1.snap"
    )
    assert snap["download"]["deltas"] == [] and len(snap["download"]["sha3-384"]) == 96
    assert snap["download"]["size"] > 2_000_000
    assert snap["epoch"] == {"read": [0], "write": [0]}
    assert snap["confinement"] == "classic" and snap["type"] == "app"
    assert snap["base"] == "core22" and snap["prices"] == {} and snap["private"] is False
    assert snap["publisher"] == {
        "id": "snapsim", "username": "snapsim",
        "display-name": "Snap Store Simulator", "validation": "verified",
    }  # fmt: skip
    assert "name: mid-app\n" in snap["snap-yaml"] and "confinement: classic" in snap["snap-yaml"]


@pytest.mark.parametrize(
    ("name", "kind", "arch", "revision"),
    [
        ("core22", "base", "amd64", 1),
        ("core22", "base", "arm64", 2),
        ("core20", "base", "amd64", 1),
        ("snapd", "snapd", "arm64", 2),
    ],
)
def test_prerequisite_snaps_look_like_bases_and_snapd(
    api: httpx.Client, name: str, kind: str, arch: str, revision: int
) -> None:
    """snapd works out prerequisites from this JSON before downloading (reference §6
    pitfall 14): a base or snapd must say its type and have no base, or it gets one."""
    result = one(api, install(name), headers={"Snap-Device-Architecture": arch})
    snap = result["snap"]
    assert set(snap) >= STORE_SNAP_FIELDS
    assert (result["effective-channel"], snap["revision"]) == ("latest/stable", revision)
    assert (snap["type"], snap["base"], snap["architectures"]) == (kind, None, [arch])
    assert snap["confinement"] == "strict" and snap["epoch"] == {"read": [0], "write": [0]}
    assert f"name: {name}\n" in snap["snap-yaml"] and f"type: {kind}\n" in snap["snap-yaml"]
    assert "base:" not in snap["snap-yaml"] and "apps:" not in snap["snap-yaml"]


def test_fields_limit_the_snap_object(api: httpx.Client) -> None:
    snap = one(api, install("hello-sim"), fields=["version", "download"])["snap"]
    assert set(snap) == {"version", "download", "name", "snap-id", "revision"}


def test_fetch_assertions(api: httpx.Client) -> None:
    action = {
        "action": "fetch-assertions",
        "key": "g1",
        "assertions": [
            {"type": "snap-declaration", "primary-key": ["16", HELLO_ID]},
            {"type": "snap-declaration", "primary-key": ["16", snap_id_for("mid-app")],
             "if-newer-than": 0},
            {"type": "snap-declaration", "primary-key": ["16", "Z" * 32]},
            {"type": "account", "primary-key": ["snapsim"]},
            {"type": "validation-set", "sequence-key": ["16", "snapsim", "nope"]},
        ],
    }  # fmt: skip
    result = one(api, action, **{"assertion-max-formats": {"snap-declaration": 5}})
    assert result["result"] == "fetch-assertions" and result["key"] == "g1"
    urls = result["assertion-stream-urls"]
    assert len(urls) == 2 and all(u.startswith("http://127.0.0.1:") for u in urls)
    assert f"/v2/assertions/snap-declaration/16/{HELLO_ID}" in urls[0]
    errors = result["error-list"]
    assert errors[0]["code"] == "not-found" and errors[0]["primary-key"] == ["16", "Z" * 32]
    assert errors[0]["type"] == "snap-declaration"
    assert errors[1]["sequence-key"] == ["16", "snapsim", "nope"]
    stream = httpx.get(urls[0], headers={"Accept": "application/x.ubuntu.assertion"})
    assert stream.status_code == 200
    types = [a.type for a in parse_stream(stream.content)]
    assert types[-1] == "snap-declaration" and "account-key" in types and "account" in types


def test_empty_actions(api: httpx.Client) -> None:
    assert refresh(api, []) == {"results": [], "error-list": []}


MALFORMED: list[Any] = [
    b"not json",
    b"\xff\xfe",
    b"",
    b"[]",
    b'"actions"',
    {"actions": "install"},
    {"context": {}, "actions": []},
    {"context": [1], "actions": []},
    {"context": [{"snap-id": "x", "instance-key": "x"}], "actions": []},
    {"context": [], "actions": [1]},
    {"context": [], "actions": [{"action": "explode", "instance-key": "x"}]},
    {"context": [], "actions": [{"action": "install", "name": "hello-sim"}]},
    {"context": [], "actions": [{"action": "install", "instance-key": "i", "name": 5}]},
    {"context": [], "actions": [install("hello-sim", revision="3")]},
    {"context": [], "actions": [install("hello-sim", revision=True)]},
    {"context": [], "actions": [install("hello-sim", revision=0)]},
    {"context": [], "actions": [install("hello-sim", channel="a/b/c/d")]},
    {"context": [], "actions": [install("hello-sim", channel=7)]},
    {"context": [], "actions": [{"action": "refresh", "instance-key": "x"}]},
    {"context": [], "actions": [{"action": "fetch-assertions", "key": "k", "assertions": "x"}]},
    {"context": [], "actions": [{"action": "fetch-assertions", "key": "k",
                                 "assertions": [{"type": "account", "primary-key": "x"}]}]},
    {"context": [], "actions": [], "fields": "version"},
    {"context": [], "actions": [], "assertion-max-formats": {"snap-declaration": "5"}},
]  # fmt: skip


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_bodies_are_store_400s(api: httpx.Client, body: Any) -> None:
    if isinstance(body, bytes):
        response = api.post("/v2/snaps/refresh", content=body,
                            headers={"Content-Type": "application/json"})  # fmt: skip
    else:
        response = api.post("/v2/snaps/refresh", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error-list"][0]
    assert error["code"] == "invalid-request" and error["message"]
