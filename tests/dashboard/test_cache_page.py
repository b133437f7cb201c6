"""The cache page's newer parts against the admin API: free disk, the 30-day chart and its
table, the fills in progress (at render time, and the JSON the page's script reads) and
prefetch from the page (CSRF-protected)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.dashboard.pages import browser, csrf_of, ids, signed_in
from tests.support.cache import KIB, MIB, Blob, Fetched, blob_fetches, fetch, wait_for
from tests.support.proxies import ADMIN_TOKEN, ProxyUnderTest
from tests.support.sim import SimHandle


def _daily(proxy: ProxyUnderTest) -> list[dict[str, Any]]:
    time.sleep(2 * proxy.counter_flush)
    with proxy.admin() as admin:
        return list(admin.get("/v1/cache/daily", params={"days": 30}).json()["days"])


def test_free_disk_and_the_chart_of_30_days_are_the_admin_apis(
    proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(64 * KIB)
    with proxy.client() as device:
        assert fetch(device, blob.url_path).complete
        assert fetch(device, blob.url_path).complete
    # Free disk moves with everything else on the machine (CI runs a Docker build beside the
    # tests), so the page's figure is read between two readings of the admin API, and the
    # page is read again until the daily counters and the disk both stood still around it.
    with signed_in(proxy) as client:
        for _ in range(10):
            before = _daily(proxy)
            disk_before = proxy.stats()["disk"]
            page = client.get("/dashboard/cache")
            disk_after = proxy.stats()["disk"]
            assert page.status_code == 200
            shown_free = int(ids(page.text).data_bytes["disk-free"])
            free_readings = sorted((disk_before["free"], disk_after["free"]))
            disk_still = free_readings[1] - free_readings[0] < 4 * MIB
            if _daily(proxy) == before and disk_still:
                break
        else:
            raise AssertionError("the daily counters or the free disk never stood still")
    found = ids(page.text)
    assert found.data_bytes["disk-total"] == str(disk_before["total"])
    assert free_readings[0] - 4 * MIB <= shown_free <= free_readings[1] + 4 * MIB, (
        shown_free,
        free_readings,
    )
    assert found.data_bytes["disk-reserve"] == str(disk_before["reserve"])
    # The chart: an accessible SVG drawn by the server, and a table of the same figures.
    assert 'role="img" aria-labelledby="chart-title chart-desc"' in page.text
    assert found.text["chart-title"]
    assert before[0]["day"] in found.text["chart-desc"]
    assert before[-1]["day"] in found.text["chart-desc"]
    bars = page.text.count("<rect x=")
    assert bars == sum(
        (day["bytes-from-cache"] > 0) + (day["bytes-from-upstream"] > 0) for day in before
    )
    assert bars >= 2  # today's: our hit and our fill
    table = page.text.split('<table id="daily">', 1)[1].split("</table>", 1)[0]
    for day in before:
        row = table.split(f'<tr data-day="{day["day"]}">', 1)[1].split("</tr>", 1)[0]
        cells = [
            f'<td class="number">{day["hits"]}</td>',
            f'<td class="number">{day["misses"]}</td>',
        ]
        cells += [
            f'data-bytes="{day[key]}"'
            for key in ("bytes-from-cache", "bytes-relayed", "bytes-from-upstream")
        ]
        positions = [row.index(cell) for cell in cells]  # each there, in this order
        assert positions == sorted(positions), row


def test_a_fill_in_progress_is_on_the_page_and_in_its_json(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(MIB)
    sim.set_faults(bandwidth_bps=160 * KIB)  # about six seconds
    got: list[Fetched] = []
    with proxy.client() as device, signed_in(proxy) as client:
        downloading = threading.Thread(target=lambda: got.append(fetch(device, blob.url_path)))
        downloading.start()
        row = f'<tr data-sha3="{blob.sha3_384}" data-snap="{blob.name}">'

        def showing() -> str | None:
            found = client.get("/dashboard/cache").text
            return found if row in found else None

        page = wait_for(showing)
        assert page, "the fill never showed on the page"
        shown = page.split(row, 1)[1].split("</tr>", 1)[0]
        assert f'<th scope="row">{blob.name}</th>' in shown
        assert f'<td class="number">{blob.revision}</td>' in shown
        assert f'<progress max="{blob.size}" value="' in shown
        listed = client.get("/dashboard/cache/fills")
        assert listed.status_code == 200
        assert "script-src 'self'" in listed.headers["content-security-policy"]
        ours = [fill for fill in listed.json()["fills"] if fill["sha3-384"] == blob.sha3_384]
        assert ours and ours[0]["name"] == blob.name and ours[0]["size"] == blob.size
        downloading.join(60)
        assert got and got[0].complete
        wait_for(lambda: row not in client.get("/dashboard/cache").text)
        assert row not in client.get("/dashboard/cache").text


def test_the_fills_json_and_the_script_need_nothing_else(proxy: ProxyUnderTest) -> None:
    with browser(proxy) as anonymous:
        refused = anonymous.get("/dashboard/cache/fills")
        assert refused.status_code == 401  # a script gets no redirect to follow
        script = anonymous.get("/dashboard/cache.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/dashboard/cache/fills" in script.text
    with signed_in(proxy) as client:
        page = client.get("/dashboard/cache")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert '<script src="/dashboard/cache.js" defer></script>' in page.text
    assert "<script>" not in page.text  # no inline script


def test_prefetch_from_the_page(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(768 * KIB)
    sim.set_faults(bandwidth_bps=256 * KIB)  # about three seconds
    form = {"name": blob.name, "channel": "latest/stable", "arch": "amd64"}
    with signed_in(proxy) as client:
        csrf = csrf_of(client.get("/dashboard/cache").text)
        # Without the session's CSRF token: refused, nothing fetched.
        assert client.post("/dashboard/cache/prefetch", data=form).status_code == 403
        wrong = client.post("/dashboard/cache/prefetch", data={**form, "csrf": "x" + csrf})
        assert wrong.status_code == 403
        assert blob_fetches(sim, blob) == 0
        bad = client.post(
            "/dashboard/cache/prefetch", data={**form, "arch": "AMD 64", "csrf": csrf}
        )
        assert bad.status_code == 400 and "Traceback" not in bad.text
        unknown = {**form, "name": "no-such-snap-here", "csrf": csrf}
        missing = client.post("/dashboard/cache/prefetch", data=unknown)
        assert missing.status_code == 404, missing.text
        assert "no-such-snap-here" in ids(missing.text).text["problem"]

        answer = client.post("/dashboard/cache/prefetch", data={**form, "csrf": csrf})
        assert answer.status_code == 303, answer.text
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert query["state"] == ["started"] and query["revision"] == [str(blob.revision)]
        page = client.get(answer.headers["location"]).text
        assert (
            ids(page).text["done"]
            == f"{blob.name} revision {blob.revision}: fetching it now (see Fills in progress)"
        )
        assert (
            f'data-snap="{blob.name}"' in page.split('<table id="fills"', 1)[1].split("</table>")[0]
        )
        assert wait_for(lambda: proxy.entries(blob.name), timeout=30)
        again = client.post("/dashboard/cache/prefetch", data={**form, "csrf": csrf})
        assert ids(client.get(again.headers["location"]).text).text["done"] == (
            f"{blob.name} revision {blob.revision}: already cached"
        )
    assert blob_fetches(sim, blob) == 1
    with proxy.client() as device:
        assert fetch(device, blob.url_path).body == blob.content()
    assert proxy.snap_stats(blob.name)["hits"] == 1


def test_prefetch_never_sends_the_admin_token_upstream(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    """The revision is asked as a device: the simulator logs every request's headers."""
    blob = new_snap(16 * KIB)
    with signed_in(proxy) as client:
        csrf = csrf_of(client.get("/dashboard/cache").text)
        form = {"name": blob.name, "channel": "latest/stable", "arch": "amd64", "csrf": csrf}
        assert client.post("/dashboard/cache/prefetch", data=form).status_code == 303
        assert wait_for(lambda: proxy.entries(blob.name), timeout=30)
    stats = sim.stats()
    assert stats["requests"].get("POST /v2/snaps/refresh", 0) >= 1  # the refresh went upstream
    assert [seen for seen in stats["credentials"] if ADMIN_TOKEN in seen] == []
