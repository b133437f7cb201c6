"""The dashboard's figures, checked against the admin API (and ``status``'s own gathering)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from shared.status_report import gather
from tests.dashboard.pages import ids, signed_in
from tests.support.cache import KIB, Blob, fetch
from tests.support.proxies import ADMIN_TOKEN, ProxyUnderTest


def _counted(proxy: ProxyUnderTest) -> dict[str, Any]:
    """The stats without the disk (other programs write to the same disk meanwhile)."""
    stats = proxy.stats()
    del stats["disk"]
    return stats


def _settled_stats(proxy: ProxyUnderTest) -> dict[str, Any]:
    """The admin API's stats once two readings agree (replicas flush their counters)."""
    deadline = time.monotonic() + 60
    last = _counted(proxy)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = _counted(proxy)
        if now == last:
            return now
        last = now
    raise AssertionError("the cache's counters never settled")


def test_cache_page_figures_are_the_admin_apis(
    proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(96 * KIB)
    with proxy.client() as device:
        assert fetch(device, blob.url_path).complete  # miss
        assert fetch(device, blob.url_path).complete  # hit
    stats = _settled_stats(proxy)
    with signed_in(proxy) as client:
        page = client.get("/dashboard/cache")
    assert page.status_code == 200
    assert stats == _counted(proxy), "the counters moved while the page was read"
    found, totals = ids(page.text), stats["totals"]
    assert found.data_bytes["cache-size"] == str(totals["size"])
    assert found.text["cache-entries"] == str(totals["entries"])
    assert found.text["cache-hits"] == str(totals["hits"])
    assert found.text["cache-misses"] == str(totals["misses"])
    assert found.data_bytes["bytes-from-cache"] == str(totals["bytes-from-cache"])
    assert found.data_bytes["bytes-from-upstream"] == str(totals["bytes-from-upstream"])
    ratio = totals["hits"] / (totals["hits"] + totals["misses"])
    assert found.text["hit-ratio"] == f"{ratio * 100:.1f} %"
    if totals["max-size"] is None:
        assert found.text["cache-cap"] == "no cap"
    assert found.data_bytes["bytes-relayed"] == str(totals["bytes-relayed"])
    assert found.data_bytes["bytes-saved"] == str(totals["bytes-saved"])
    # Our snap is in the top table only if it is among the top ten by bytes saved.
    ours = stats["snaps"][blob.name]
    assert ours["bytes-from-cache"] == blob.size and ours["bytes-from-upstream"] == blob.size
    assert ours["bytes-saved"] == blob.size  # sent twice, fetched once
    ranked = sorted(
        (item for item in stats["snaps"].items() if item[1]["bytes-saved"] > 0),
        key=lambda item: (-item[1]["bytes-saved"], item[0]),
    )
    top = [name for name, _ in ranked[:10]]
    for name in top:
        assert f'data-snap="{name}"' in page.text
    assert (f'data-snap="{blob.name}"' in page.text) == (blob.name in top)


def test_overview_is_what_status_gathers(proxy: ProxyUnderTest) -> None:
    report = asyncio.run(gather(proxy.url, ADMIN_TOKEN))
    with signed_in(proxy) as client:
        page = client.get("/dashboard/")
    assert page.status_code == 200
    found = ids(page.text)
    expected_topology = "embedded" if report.embedded else "split"
    assert found.text["topology"] == expected_topology
    assert found.text["registration"] == "not registered"
    assert found.text["mode"] == "online"
    for part in report.parts:
        row = page.text.split(f'data-part="{part.name}"', 1)
        assert len(row) == 2, f"{part.name} is not on the page"
        state = row[1].split("</tr>", 1)[0]
        assert (">running<" in state) == part.running, (part, state)
    assert found.text["connected-devices"] == str(report.figures["connected-devices"])
    assert ("everything running" in found.text["suite-health"]) == report.healthy


def test_devices_page_figures_are_the_admin_apis(proxy: ProxyUnderTest) -> None:
    with proxy.admin() as admin:
        summary = admin.get("/v1/devices/summary").json()
        listing = admin.get("/v1/devices", params={"limit": 100}).json()["devices"]
    with signed_in(proxy) as client:
        page = client.get("/dashboard/devices")
    assert page.status_code == 200
    found = ids(page.text)
    assert found.text["connected-devices"] == str(summary["connected-devices"])
    limit = summary["device-limit"]
    assert found.text["device-limit"] == ("unlimited" if limit is None else str(limit))
    table = found.text["devices"]
    for device in listing:
        assert device["serial"] in table and device["last-seen"] in table
    if not listing:
        assert "No device has asked for a session yet." in table


def test_overrides_page_shows_the_overrides_and_the_audit_log(
    proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(16 * KIB)
    change = {"snap_name": blob.name, "channel": "stable", "revision": blob.revision}
    with proxy.admin() as admin:
        answer = admin.post("/v2/metadata/overrides", json=[{**change, "series": "16"}])
        assert answer.status_code == 200, answer.text
        current = admin.get(f"/v2/metadata/overrides/{blob.name}").json()["overrides"]
        log = admin.get("/v1/overrides/log", params={"limit": 100}).json()["changes"]
    assert current and log
    with signed_in(proxy) as client:
        page = client.get("/dashboard/overrides")
    assert page.status_code == 200
    found = ids(page.text)
    overrides, table = found.text["overrides"], found.text["override-log"]
    for row in current:
        expected = f"{row['snap_name']} {row['channel']} {row['architecture']} {row['revision']}"
        assert expected in overrides
    for entry in log:
        assert entry["changed_at"] in table and entry["snap_name"] in table


def test_every_page_has_a_plain_title_and_one_main_heading(proxy: ProxyUnderTest) -> None:
    """Each page's <title> is its name in words (no markup leaked into it) and its <h1>."""
    names = {
        "": "Overview",
        "cache": "Cache",
        "devices": "Devices",
        "overrides": "Overrides",
        "offline": "Offline",
    }
    with signed_in(proxy) as client:
        for path, name in names.items():
            page = client.get(f"/dashboard/{path}")
            assert page.status_code == 200, (path, page.text[:300])
            title = page.text.split("<title>", 1)[1].split("</title>", 1)[0]
            assert title == f"{name} · snapproxy dashboard", (path, title[:200])
            assert page.text.count("<h1") == 1 and f"<h1>{name}</h1>" in page.text, path
