"""Private snaps in refresh, info, find, names, sections, cohorts and assertions.

Without credentials the simulator accepts, a private snap answers exactly like a snap that
does not exist (compared byte for byte with the answer about a name that never existed);
with them it is an ordinary snap whose store JSON says ``"private": true``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shared.assertions import parse_assertion
from tests.sim.helpers import PRIVATE_CATEGORY, PRIVATE_ID, device_session, one, refresh
from tests.support.device_api import install
from tests.support.sim import SimHandle
from tools.snap_store_sim.access import (
    TEST_USER_ROOT,
    USER_AUTH_HEADERS,
    device_authorization,
    issue_session,
)
from tools.snap_store_sim.ids import snap_id_for
from tools.snap_store_sim.publish import b64url_digest

NEVER = "never-published"  # a name that never existed: its answers are the yardstick
NEVER_ID = snap_id_for(NEVER)

# Credentials the simulator did not issue: each counts as no credentials at all.
REFUSED = [
    {},
    {"Authorization": "Bearer " + TEST_USER_ROOT},
    {"Authorization": f'Macaroon root="{TEST_USER_ROOT}", discharge="forged"'},
    {"Authorization": 'Macaroon root="someone-else", discharge="d"'},
    {"Snap-Device-Authorization": 'Macaroon root="snapsim-session-made-up.0000"'},
    {"Snap-Device-Authorization": f'Macaroon root="{issue_session(b"another-sim")}"'},
    {"X-Device-Authorization": "garbage"},
    {"Snap-Device-Authorization": ""},
]


def _as_if(value: Any, old: str, new: str) -> Any:
    """``value`` with every occurrence of ``old`` replaced by ``new`` (for comparing answers)."""
    return json.loads(json.dumps(value).replace(old, new))


def _accepted(client: httpx.Client, sim: SimHandle) -> list[dict[str, str]]:
    """One of each kind of credential the simulator accepts."""
    session = f'Macaroon root="{device_session(client)}"'
    return [
        USER_AUTH_HEADERS,
        {"Snap-Device-Authorization": session},
        {"X-Device-Authorization": session},
        {"Snap-Device-Authorization": device_authorization(sim.data_dir)},
        # One accepted credential is enough, whatever else comes along.
        {"Authorization": "Bearer nonsense", "X-Device-Authorization": session},
    ]


def _refresh_by_id(snap_id: str) -> dict[str, Any]:
    return {
        "context": [{"snap-id": snap_id, "instance-key": snap_id, "revision": 1,
                     "tracking-channel": "stable", "epoch": {"read": [0], "write": [0]}}],
        "action": {"action": "refresh", "instance-key": snap_id, "snap-id": snap_id},
    }  # fmt: skip


@pytest.mark.parametrize("headers", REFUSED)
def test_refresh_without_credentials_is_as_for_an_unknown_snap(
    api: httpx.Client, private_snap: str, headers: dict[str, str]
) -> None:
    for action in ("install", "download"):
        ask = {"action": action, "instance-key": f"{action}-1", "epoch": None}
        hidden = one(api, {**ask, "name": private_snap}, headers=headers)
        unknown = one(api, {**ask, "name": NEVER}, headers=headers)
        assert hidden["error"]["code"] == "name-not-found"
        assert hidden == _as_if(unknown, NEVER, private_snap)
    by_id = _refresh_by_id(PRIVATE_ID)
    hidden = one(api, by_id["action"], context=by_id["context"], headers=headers)
    unknown_id = _refresh_by_id(NEVER_ID)
    unknown = one(api, unknown_id["action"], context=unknown_id["context"], headers=headers)
    assert hidden["error"]["code"] == "id-not-found"
    assert hidden == _as_if(unknown, NEVER_ID, PRIVATE_ID)


def test_refresh_with_credentials(sim: SimHandle, api: httpx.Client, private_snap: str) -> None:
    for headers in _accepted(api, sim):
        installed = one(api, install(private_snap), headers=headers)
        assert installed["result"] == "install", headers
        assert installed["snap"]["private"] is True and installed["snap"]["revision"] == 1
        edge = one(api, install(private_snap, channel="edge"), headers=headers)
        assert edge["snap"]["revision"] == 2 and edge["snap"]["private"] is True
        by_id = _refresh_by_id(PRIVATE_ID)
        refreshed = one(api, by_id["action"], context=by_id["context"], headers=headers)
        assert refreshed["result"] == "refresh" and refreshed["snap"]["revision"] == 1
    public = one(api, install("hello-sim"), headers=USER_AUTH_HEADERS)
    assert public["snap"]["private"] is False  # credentials change nothing for public snaps


def test_mixed_refresh_hides_only_the_private_snap(api: httpx.Client, private_snap: str) -> None:
    actions = [install("hello-sim", "install-1"), install(private_snap, "install-2")]
    anonymous = refresh(api, actions)["results"]
    assert [r["result"] for r in anonymous] == ["install", "error"]
    credentialed = refresh(api, actions, headers=USER_AUTH_HEADERS)["results"]
    assert [r["result"] for r in credentialed] == ["install", "install"]


@pytest.mark.parametrize("headers", REFUSED[:4])
def test_info_without_credentials_is_a_plain_404(
    api: httpx.Client, private_snap: str, headers: dict[str, str]
) -> None:
    hidden = api.get(f"/v2/snaps/info/{private_snap}", headers=headers)
    unknown = api.get(f"/v2/snaps/info/{NEVER}", headers=headers)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.headers["content-type"] == unknown.headers["content-type"]
    assert hidden.json() == _as_if(unknown.json(), NEVER, private_snap)


def test_info_with_credentials(sim: SimHandle, api: httpx.Client, private_snap: str) -> None:
    for headers in _accepted(api, sim):
        info = api.get(f"/v2/snaps/info/{private_snap}", headers=headers)
        assert info.status_code == 200, headers
        body = info.json()
        assert body["snap-id"] == PRIVATE_ID and body["snap"]["private"] is True
        assert {(e["channel"]["name"], e["revision"]) for e in body["channel-map"]} == {
            ("stable", 1), ("edge", 2),
        }  # fmt: skip


def _found(api: httpx.Client, headers: dict[str, str], **params: str) -> list[str]:
    response = api.get("/v2/snaps/find", params=params, headers=headers)
    assert response.status_code == 200
    return [result["name"] for result in response.json()["results"]]


@pytest.mark.parametrize("headers", REFUSED[:4])
def test_find_without_credentials_does_not_list_it(
    api: httpx.Client, private_snap: str, headers: dict[str, str]
) -> None:
    assert _found(api, headers, q="private") == []
    assert _found(api, headers, name="private*") == []
    assert _found(api, headers, category=PRIVATE_CATEGORY) == []
    assert _found(api, headers, private="true") == []
    assert private_snap not in _found(api, headers, category="development")


def test_find_with_credentials(api: httpx.Client, private_snap: str) -> None:
    assert _found(api, USER_AUTH_HEADERS, q="private") == [private_snap]
    assert _found(api, USER_AUTH_HEADERS, category=PRIVATE_CATEGORY) == [private_snap]
    assert _found(api, USER_AUTH_HEADERS, private="true") == [private_snap]
    assert private_snap in _found(api, USER_AUTH_HEADERS, category="development")
    [result] = api.get(
        "/v2/snaps/find", params={"name": private_snap}, headers=USER_AUTH_HEADERS
    ).json()["results"]
    assert result["snap"]["private"] is True and result["revision"]["revision"] == 1


def test_names_sections_and_categories(
    sim: SimHandle, api: httpx.Client, private_snap: str
) -> None:
    def listed(headers: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
        names = api.get("/api/v1/snaps/names", headers=headers).json()
        sections = api.get("/api/v1/snaps/sections", headers=headers).json()
        categories = api.get("/v2/snaps/categories", headers=headers).json()
        return (
            [p["package_name"] for p in names["_embedded"]["clickindex:package"]],
            [s["name"] for s in sections["_embedded"]["clickindex:sections"]],
            [c["name"] for c in categories["categories"]],
        )

    for headers in REFUSED[:4]:
        names, sections, categories = listed(headers)
        assert "hello-sim" in names and private_snap not in names
        assert "development" in sections and PRIVATE_CATEGORY not in sections
        assert PRIVATE_CATEGORY not in categories
    for headers in _accepted(api, sim)[:2]:
        names, sections, categories = listed(headers)
        assert private_snap in names
        assert PRIVATE_CATEGORY in sections and PRIVATE_CATEGORY in categories


def test_cohorts(api: httpx.Client, private_snap: str) -> None:
    body = {"snaps": [private_snap]}
    hidden = api.post("/v2/cohorts", json=body)
    unknown = api.post("/v2/cohorts", json={"snaps": [NEVER]})
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == unknown.json()
    both = api.post("/v2/cohorts", json={"snaps": [private_snap, "hello-sim"]})
    assert set(both.json()["cohort-keys"]) == {"hello-sim"}
    granted = api.post("/v2/cohorts", json=body, headers=USER_AUTH_HEADERS)
    assert granted.status_code == 200 and granted.json()["cohort-keys"][private_snap]


def test_v1_search_is_not_served_to_anyone(api: httpx.Client, private_snap: str) -> None:
    """snapd 2.57 falls back to ``/api/v1/snaps/search`` only for Store-Version < 20; the
    simulator (58) does not serve it, so it lists nothing, private or not."""
    for headers in ({}, USER_AUTH_HEADERS):
        response = api.get("/api/v1/snaps/search", params={"q": private_snap}, headers=headers)
        assert response.status_code == 404
        assert response.json()["error-list"][0]["code"] == "not-found"


def test_assertions_stay_public(api: httpx.Client, private_snap: str) -> None:
    """Like the Store: snap-declaration and snap-revision are served to whoever asks by key,
    one by one and through fetch-assertions."""
    snap = one(api, install(private_snap), headers=USER_AUTH_HEADERS)["snap"]
    declaration = api.get(f"/v2/assertions/snap-declaration/16/{PRIVATE_ID}")
    assert declaration.status_code == 200
    assert parse_assertion(declaration.content).header("snap-name") == private_snap
    digest = b64url_digest(snap["download"]["sha3-384"])
    revision = api.get(f"/v2/assertions/snap-revision/{digest}")
    assert revision.status_code == 200
    assert parse_assertion(revision.content).header("snap-id") == PRIVATE_ID
    wanted = [{"type": "snap-declaration", "primary-key": ["16", PRIVATE_ID]}]
    fetch = {"action": "fetch-assertions", "key": "g1", "assertions": wanted}
    [result] = refresh(api, [fetch])["results"]
    assert result["error-list"] == [] and len(result["assertion-stream-urls"]) == 1
