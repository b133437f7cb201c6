"""The overrides' admin API (caller: the admin, with the admin token), in both topologies:
the Snap Store Proxy's shapes (checked with a JSON Schema), checks against the upstream, and
refusals that are 4xx in the Store's error shape and change nothing."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.support.device_api import assert_store_error
from tests.support.overrides import (
    OVERRIDE_SCHEMA,
    PinnableSnap,
    get_overrides,
    override_log,
    pin,
    pinnable_snap,
    post_overrides,
)
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle


@pytest.fixture
def snap(sim: SimHandle) -> PinnableSnap:
    return pinnable_snap(sim)


def test_pin_list_and_delete_in_the_snap_store_proxys_shapes(
    any_proxy: ProxyUnderTest, snap: PinnableSnap
) -> None:
    answer = pin(any_proxy, snap.name, "stable", 1)
    jsonschema.validate(answer, OVERRIDE_SCHEMA)
    expected = {
        "snap_id": snap.snap_id,
        "snap_name": snap.name,
        "revision": 1,
        "upstream_revision": 2,  # what latest/stable holds upstream for amd64
        "channel": "stable",
        "architecture": "amd64",  # r1 is built for amd64 only
        "series": "16",
    }
    assert answer == {"overrides": [expected]}
    listed = get_overrides(any_proxy, snap.name)
    jsonschema.validate({"overrides": listed}, OVERRIDE_SCHEMA)
    assert listed == [expected]

    # r3 is arm64's: the same channel pinned for that architecture too, "latest/stable"
    # being "stable".
    answer = pin(any_proxy, snap.name, "latest/stable", 3)
    assert {
        (o["architecture"], o["revision"], o["upstream_revision"]) for o in answer["overrides"]
    } == {
        ("amd64", 1, 2),
        ("arm64", 3, 3),
    }
    # A track and a branch are channels too.
    pin(any_proxy, snap.name, "latest/candidate/hotfix", 4)
    assert {o["channel"] for o in get_overrides(any_proxy, snap.name)} == {
        "stable",
        "candidate/hotfix",
    }

    # A null revision drops the channel's pins on every architecture.
    answer = pin(any_proxy, snap.name, "stable", None)
    jsonschema.validate(answer, OVERRIDE_SCHEMA)
    assert [o["channel"] for o in answer["overrides"]] == ["candidate/hotfix"]
    pin(any_proxy, snap.name, "candidate/hotfix", None)
    assert get_overrides(any_proxy, snap.name) == []

    log = override_log(any_proxy, snap.name)
    assert [
        (c["action"], c["channel"], c["architecture"], c["old_revision"], c["new_revision"])
        for c in reversed(log)
    ] == [
        ("set", "stable", "amd64", None, 1),
        ("set", "stable", "arm64", None, 3),
        ("set", "candidate/hotfix", "amd64", None, 4),
        ("delete", "stable", "amd64", 1, None),
        ("delete", "stable", "arm64", 3, None),
        ("delete", "candidate/hotfix", "amd64", 4, None),
    ]
    assert all(c["actor"].startswith("admin from ") and c["changed_at"] for c in log)


def _item(snap: PinnableSnap, **changed: Any) -> dict[str, Any]:
    return {"snap_name": snap.name, "channel": "stable", "revision": 1, "series": "16"} | changed


REFUSALS: dict[str, tuple[int, Any]] = {
    "unknown snap": (404, lambda s: [_item(s, snap_name="no-such-snap-here")]),
    "unknown revision": (404, lambda s: [_item(s, revision=99)]),
    "revision 0": (400, lambda s: [_item(s, revision=0)]),
    "revision as text": (400, lambda s: [_item(s, revision="1")]),
    "no risk": (400, lambda s: [_item(s, channel="latest/nightly")]),
    "too many parts": (400, lambda s: [_item(s, channel="a/stable/b/c")]),
    "empty part": (400, lambda s: [_item(s, channel="latest//stable")]),
    "bad name": (400, lambda s: [_item(s, snap_name="Not_A_Name")]),
    "series 18": (400, lambda s: [_item(s, series="18")]),
    "unknown field": (400, lambda s: [_item(s, arch="amd64")]),
    "not a list": (400, lambda s: _item(s)),
    "empty list": (400, lambda s: []),
    "over-long list": (400, lambda s: [_item(s, channel=f"t{i}/stable") for i in range(101)]),
    "over 32 KiB": (
        413,
        lambda s: [_item(s, channel=f"{'t' * 120}{i}/stable") for i in range(300)],
    ),
    # One good change and one refused: neither is made.
    "one of two refused": (404, lambda s: [_item(s, channel="edge"), _item(s, revision=98)]),
}


@pytest.mark.parametrize("case", REFUSALS, ids=str)
def test_bad_input_is_refused_and_changes_nothing(
    any_proxy: ProxyUnderTest, snap: PinnableSnap, case: str
) -> None:
    pin(any_proxy, snap.name, "beta", 2)
    before = (get_overrides(any_proxy, snap.name), override_log(any_proxy, snap.name))
    status, body = REFUSALS[case]
    response = post_overrides(any_proxy, body(snap))
    assert_store_error(response, status)
    assert (get_overrides(any_proxy, snap.name), override_log(any_proxy, snap.name)) == before


def test_a_hundred_long_changes_fit(any_proxy: ProxyUnderTest, snap: PinnableSnap) -> None:
    """The most one POST takes, with channel names near their 128 characters."""
    items = [
        _item(snap, channel=f"{'t' * 110}{i:03}/stable/{'b' * 7}", revision=1) for i in range(100)
    ]
    assert post_overrides(any_proxy, items).status_code == 200
    assert len(get_overrides(any_proxy, snap.name)) == 100


def test_the_admin_token_is_needed(any_proxy: ProxyUnderTest, snap: PinnableSnap) -> None:
    response = post_overrides(any_proxy, [_item(snap)], token=False)
    assert_store_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    with any_proxy.client() as device:  # a device's headers, no admin token
        for path in (f"/v2/metadata/overrides/{snap.name}", "/v1/overrides/log"):
            assert_store_error(device.get(path), 401)
        for path in ("/v1/overrides/freeze", "/v1/overrides/promote"):
            assert_store_error(device.post(path, json={}), 401)
    assert get_overrides(any_proxy, snap.name) == []
    assert override_log(any_proxy, snap.name) == []


def test_listing_a_bad_name_is_a_400(any_proxy: ProxyUnderTest) -> None:
    with any_proxy.admin() as admin:
        assert_store_error(admin.get("/v2/metadata/overrides/Bad_Name"), 400)
        assert admin.get("/v2/metadata/overrides/never-pinned").json() == {"overrides": []}
