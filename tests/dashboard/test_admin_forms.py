"""The Overrides page's forms (set, delete: the admin API ``snap-proxy override`` uses), the
Devices page's two windows, and the Offline page (the admin API behind
``list-pushed-snaps``), checked against the admin API on both topologies."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard.pages import browser, csrf_of, ids, signed_in
from tests.support.cache import KIB, Blob
from tests.support.offline import NAME, build_bundle
from tests.support.proxies import ProxyUnderTest
from tests.support.proxy_cli import cli


def _overrides(proxy: ProxyUnderTest, name: str) -> list[dict[str, Any]]:
    with proxy.admin() as admin:
        answer = admin.get(f"/v2/metadata/overrides/{name}")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["overrides"])


def test_set_and_delete_an_override_from_the_page(
    proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(16 * KIB)
    with signed_in(proxy) as client:
        csrf = csrf_of(client.get("/dashboard/overrides").text)
        form = {"name": blob.name, "channel": "stable", "revision": str(blob.revision)}
        answer = client.post("/dashboard/overrides/set", data={**form, "csrf": csrf})
        assert answer.status_code == 303, answer.text
        (made,) = _overrides(proxy, blob.name)
        assert (made["channel"], made["revision"]) == ("stable", blob.revision)
        page = client.get(answer.headers["location"])
        found = ids(page.text)
        assert found.text["done"] == f"{blob.name}: override set"
        row = f"{blob.name} stable {made['architecture']} {blob.revision}"
        assert row in found.text["overrides"]
        with proxy.admin() as admin:
            log = admin.get("/v1/overrides/log", params={"snap": blob.name}).json()["changes"]
        assert [(c["action"], c["new_revision"]) for c in log] == [("set", blob.revision)]
        assert log[0]["actor"].startswith("dashboard from ")  # the audit log names us
        assert log[0]["changed_at"] in found.text["override-log"]
        # The row's own delete form, as the browser would send it.
        delete = {"name": blob.name, "channel": "stable", "csrf": csrf}
        assert 'name="channel" value="stable"' in page.text
        answer = client.post("/dashboard/overrides/delete", data=delete)
        assert answer.status_code == 303, answer.text
        assert _overrides(proxy, blob.name) == []
        page = client.get(answer.headers["location"])
        assert ids(page.text).text["done"] == f"{blob.name}: override deleted"
        assert f"{blob.name} stable" not in ids(page.text).text["overrides"]


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"name": "no-such-snap-dash", "channel": "stable", "revision": "1"}, 404, "no-such"),
        ({"channel": "stable", "revision": "987654"}, 404, "no revision 987654"),
        ({"channel": "stable", "revision": "abc"}, 400, "give a number"),
        ({"channel": "stable", "revision": "0"}, 400, "give a number"),
        ({"channel": "no/such/channel/here", "revision": "1"}, 400, "channel"),
        ({"name": "Not A Name", "channel": "stable", "revision": "1"}, 400, "snap name"),
    ],
)
def test_bad_input_gets_a_clear_page_and_changes_nothing(
    proxy: ProxyUnderTest,
    new_snap: Callable[[int], Blob],
    form: dict[str, str],
    status: int,
    says: str,
) -> None:
    blob = new_snap(8 * KIB)
    with signed_in(proxy) as client:
        csrf = csrf_of(client.get("/dashboard/overrides").text)
        answer = client.post(
            "/dashboard/overrides/set", data={"name": blob.name, **form, "csrf": csrf}
        )
    assert answer.status_code == status, answer.text
    problem = ids(answer.text).text["problem"]
    assert says in problem, problem
    assert "Traceback" not in answer.text and "error-list" not in answer.text
    assert _overrides(proxy, blob.name) == []


def test_override_forms_need_the_sessions_csrf_token(
    proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(8 * KIB)
    form = {"name": blob.name, "channel": "stable", "revision": str(blob.revision)}
    with signed_in(proxy) as client:
        for action in ("set", "delete"):
            for csrf in ({}, {"csrf": "wrong"}):
                answer = client.post(f"/dashboard/overrides/{action}", data={**form, **csrf})
                assert answer.status_code == 403 and "CSRF" in answer.text
    with browser(proxy) as anonymous:
        answer = anonymous.post("/dashboard/overrides/set", data={**form, "csrf": "x"})
        assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
        assert anonymous.get("/dashboard/offline").status_code == 303
    assert _overrides(proxy, blob.name) == []


def test_devices_page_shows_24_hours_and_30_days(proxy: ProxyUnderTest) -> None:
    with proxy.admin() as admin:
        summary = admin.get("/v1/devices/summary").json()
    assert summary["connected-devices-30d"] >= summary["connected-devices"]
    with signed_in(proxy) as client:
        found = ids(client.get("/dashboard/devices").text)
    assert found.text["connected-devices"] == str(summary["connected-devices"])
    assert found.text["connected-devices-30d"] == str(summary["connected-devices-30d"])


def _cli_env(proxy: ProxyUnderTest, root_key: Path) -> dict[str, str]:
    """The proxy's own environment (its database, its blob store) for ``snap-proxy``
    commands on its host, trusting the made-up bundle's root key."""
    if proxy.embedded is not None:
        env = dict(proxy.embedded.env)
    else:
        assert proxy.topology is not None
        env = dict(proxy.topology.env)
    return env | {"SNAPPROXY_TRUSTED_ROOT_KEYS": str(root_key)}


def _overview(client: Any) -> dict[str, str]:
    page = client.get("/dashboard/")
    assert page.status_code == 200, page.text[-2000:]
    return dict(ids(page.text).text)


def _offline_page(client: Any) -> tuple[str, Any]:
    page = client.get("/dashboard/offline")
    assert page.status_code == 200, page.text
    return page.text, ids(page.text)


def test_offline_page_lists_the_pushed_snaps_and_what_airgap_mode_lacks(
    proxy: ProxyUnderTest, tmp_path: Path
) -> None:
    bundle, root_key, _ = build_bundle(tmp_path, 24 * KIB)
    env = _cli_env(proxy, root_key)
    pushed = cli(env, "push-snap", str(bundle))
    assert pushed.returncode == 0, pushed.stderr
    with proxy.admin() as admin:
        api = admin.get("/v1/pushed-snaps").json()
    with proxy.client() as device:
        assert device.get("/v1/pushed-snaps").status_code == 401  # admin only
    listed = cli(env, "list-pushed-snaps")
    assert listed.returncode == 0 and NAME in listed.stdout
    (snap,) = [found for found in api["snaps"] if found["name"] == NAME]
    assert snap["revisions"] == [1] and snap["channels"] == ["latest/stable (amd64): 1"]
    assert f"base core22 is not imported (needed by {NAME})" in api["missing"]
    assert "snapd is not imported: devices cannot install snaps" in api["missing"]
    with signed_in(proxy) as client:
        html, found = _offline_page(client)
        assert found.text["mode"] == "online" and api["airgap"] is False
        assert found.text["pushed-count"] == str(len(api["snaps"]))
        row = html.split(f'data-snap="{NAME}"', 1)[1].split("</tr>", 1)[0]
        assert "latest/stable (amd64): 1" in row and "amd64" in row
        assert f'data-bytes="{snap["size"]}"' in row
        for warning in api["missing"]:
            assert warning in found.text["missing"]
        # In airgap mode the overview says so, with status's warnings.
        assert cli(env, "enable-airgap-mode").returncode == 0
        try:
            deadline = time.monotonic() + 60
            while "airgap" not in _overview(client)["mode"]:
                assert time.monotonic() < deadline, "airgap mode never showed"
                time.sleep(0.5)
            overview = _overview(client)
            assert overview["upstream"] == "not contacted (airgap mode)", overview
            for warning in api["missing"]:
                assert f"Warning: {warning}" in overview["warnings"], overview
            # The offline page's mode is the answer of the service that lists pushed snaps,
            # which reads the configuration on its own poll: it may follow a moment later.
            while "airgap" not in _offline_page(client)[1].text["mode"]:
                assert time.monotonic() < deadline, "the offline page never showed airgap mode"
                time.sleep(0.5)
        finally:
            assert cli(env, "disable-airgap-mode").returncode == 0
            deadline = time.monotonic() + 60
            while _overview(client)["mode"] != "online":
                assert time.monotonic() < deadline, "online mode never came back"
                time.sleep(0.5)
        status_json = cli(env, "status", "--url", proxy.url, "--json")
        assert '"mode": "online"' in status_json.stdout, status_json.stdout + status_json.stderr
