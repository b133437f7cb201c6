"""The cache admin API's figures for the dashboard (issue 14): the disk in the stats, bytes
relayed and saved, the traffic per day, the fills in progress and prefetch."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.sizes import human_size as human
from tests.support.cache import KIB, MIB, Blob, Fetched, blob_fetches, fetch, wait_for
from tests.support.infra import proxy_env
from tests.support.proxies import ADMIN_TOKEN, SNAP_PROXY, ProxyUnderTest
from tests.support.sim import SimHandle


def daily(proxy: ProxyUnderTest, days: int = 30) -> list[dict[str, Any]]:
    time.sleep(2 * proxy.counter_flush)  # every process has flushed what it batched
    with proxy.admin() as admin:
        answer = admin.get("/v1/cache/daily", params={"days": days})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["days"])


def fills(proxy: ProxyUnderTest) -> list[dict[str, Any]]:
    with proxy.admin() as admin:
        answer = admin.get("/v1/cache/fills")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["fills"])


def prefetch(proxy: ProxyUnderTest, blob: Blob) -> httpx.Response:
    with proxy.admin() as admin:
        return admin.post(
            "/v1/cache/prefetch", json={"filename": f"{blob.snap_id}_{blob.revision}.snap"}
        )


def test_the_new_endpoints_need_the_admin_token(proxy: ProxyUnderTest) -> None:
    for path in ("/v1/cache/daily", "/v1/cache/fills"):
        assert httpx.get(proxy.url + path).status_code == 401
    answer = httpx.post(proxy.url + "/v1/cache/prefetch", json={"filename": "x_1.snap"})
    assert answer.status_code == 401


def test_stats_tell_the_cache_volumes_free_space(proxy: ProxyUnderTest) -> None:
    disk = proxy.stats()["disk"]
    assert disk["backend"] == "local"
    usage = shutil.disk_usage(proxy.cache_dir)
    assert disk["total"] == usage.total
    # Other programs write to the same disk meanwhile: the same to within 64 MiB.
    assert abs(disk["free"] - usage.free) < 64 * MIB
    assert 0 < disk["reserve"] < disk["total"]


def test_bytes_relayed_and_saved_and_the_day_they_were_counted(
    proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(200 * KIB)
    before = daily(proxy)
    today = datetime.now(UTC).date()
    assert len(before) == 30
    assert before[-1]["day"] == today.isoformat()
    assert before[0]["day"] == (today - timedelta(days=29)).isoformat()
    with proxy.client() as device:
        assert fetch(device, blob.url_path).complete  # a miss: streamed from the fill
        assert fetch(device, blob.url_path).complete  # a hit
        assert fetch(device, blob.url_path, headers={"Range": "bytes=0-999"}).complete
    ours = proxy.snap_stats(blob.name)
    assert ours["bytes-relayed"] == blob.size
    assert ours["bytes-from-cache"] == blob.size + 1000
    assert ours["bytes-from-upstream"] == blob.size
    assert ours["bytes-saved"] == blob.size + 1000  # sent 2 sizes + 1000, fetched one
    after = daily(proxy)
    if after[-1]["day"] != before[-1]["day"]:
        return  # midnight (UTC) passed between the two readings: nothing to compare
    grew = {key: after[-1][key] - before[-1][key] for key in after[-1] if key != "day"}
    assert grew == {
        "hits": 2,
        "misses": 1,
        "bytes-from-cache": blob.size + 1000,
        "bytes-relayed": blob.size,
        "bytes-from-upstream": blob.size,
    }
    assert after[:-1] == before[:-1]  # earlier days do not move


def test_daily_takes_one_to_366_days(proxy: ProxyUnderTest) -> None:
    assert len(daily(proxy, 1)) == 1
    assert len(daily(proxy, 366)) == 366
    with proxy.admin() as admin:
        for days in ("0", "367", "many"):
            assert admin.get("/v1/cache/daily", params={"days": days}).status_code == 400


def test_a_slow_fill_is_listed_with_its_progress_until_it_is_stored(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(MIB)
    sim.set_faults(bandwidth_bps=192 * KIB)  # about five seconds
    got: list[Fetched] = []
    with proxy.client() as device:
        downloading = threading.Thread(target=lambda: got.append(fetch(device, blob.url_path)))
        downloading.start()

        def ours() -> dict[str, Any] | None:
            found = [fill for fill in fills(proxy) if fill["sha3-384"] == blob.sha3_384]
            return found[0] if found and found[0]["written"] else None

        first = wait_for(ours, timeout=10)
        assert first, fills(proxy)
        assert (first["name"], first["revision"], first["size"]) == (
            blob.name,
            blob.revision,
            blob.size,
        )
        assert 0 < first["written"] < blob.size
        if proxy.embedded is not None:  # one process: it streams to our one follower
            assert first["followers"] == 1
        later = wait_for(
            lambda: (found := ours()) and found["written"] > first["written"] and found
        )
        assert later and later["written"] <= blob.size, fills(proxy)
        downloading.join(60)
    assert got and got[0].complete, got
    wait_for(lambda: all(fill["sha3-384"] != blob.sha3_384 for fill in fills(proxy)))


def test_prefetch_fills_a_revision_no_one_asked_for(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(512 * KIB)
    sim.set_faults(bandwidth_bps=256 * KIB)  # about two seconds
    answer = prefetch(proxy, blob)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "name": blob.name,
        "revision": blob.revision,
        "size": blob.size,
        "state": "started",
    }
    listed = wait_for(
        lambda: [fill for fill in fills(proxy) if fill["sha3-384"] == blob.sha3_384], timeout=5
    )
    assert listed and listed[0]["name"] == blob.name, fills(proxy)
    assert wait_for(lambda: proxy.entries(blob.name), timeout=30)
    assert prefetch(proxy, blob).json()["state"] == "cached"
    assert blob_fetches(sim, blob) == 1
    ours = proxy.snap_stats(blob.name)
    assert (ours["hits"], ours["misses"], ours["bytes-relayed"]) == (0, 0, 0)
    # Fetched and not yet asked for: the snap has cost its size so far.
    assert ours["bytes-saved"] == -blob.size
    with proxy.client() as device:  # the first device to ask gets a hit
        assert fetch(device, blob.url_path).body == blob.content()
    assert proxy.snap_stats(blob.name)["bytes-saved"] == 0
    assert blob_fetches(sim, blob) == 1


def test_prefetch_of_an_unknown_revision_is_404(proxy: ProxyUnderTest) -> None:
    with proxy.admin() as admin:
        unknown = admin.post("/v1/cache/prefetch", json={"filename": "AbCdEf0123_999.snap"})
        assert unknown.status_code == 404, unknown.text
        assert admin.post("/v1/cache/prefetch", json={"filename": "../x"}).status_code == 404
        bad_arch = {"filename": "AbCdEf0123_1.snap", "architecture": "AMD 64"}
        assert admin.post("/v1/cache/prefetch", json=bad_arch).status_code == 400


def test_cache_stats_prints_the_disk_and_bytes_saved(
    proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(100 * KIB)
    with proxy.client() as device:
        assert fetch(device, blob.url_path).complete
        assert fetch(device, blob.url_path).complete
    stats = proxy.stats()
    done = subprocess.run(
        [*SNAP_PROXY, "cache", "stats", "--url", proxy.url],
        env=proxy_env(SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN, COLUMNS="250"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    disk = stats["disk"]
    total = f"of {human(disk['total'])} (eviction keeps {human(disk['reserve'])} free)"
    assert total in done.stdout
    assert "disk: " in done.stdout and " free of " in done.stdout
    row = next(line for line in done.stdout.splitlines() if blob.name in line)
    # hits, misses, from cache, relayed, from upstream, saved: one size each (saved: 2 - 1)
    cells = [cell.strip() for cell in row.split("│") if cell.strip()]
    assert cells[1:7] == ["1", "1", "100.0 KiB", "100.0 KiB", "100.0 KiB", "100.0 KiB"], row
