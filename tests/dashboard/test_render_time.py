"""Render time of each dashboard page (and of /docs/) with a seeded large database: 10,000
devices connected today, 500 more within 30 days, and 5,000 cached blobs (of 500 snaps,
each with counters). Measured beside a yardstick fetched in the same rounds
(``/_status/ping`` through the same gateway), printed and written to ``render-times.json``
in the test's directory; not asserted against a bound (the test machine is shared and
loaded), figures go to docs/performance.md. What is asserted: every page renders, with the
seeded figures."""

from __future__ import annotations

import asyncio
import hashlib
import json
import statistics
import time
from datetime import timedelta
from pathlib import Path

from shared.db import create_engine, create_sessionmaker
from shared.models import CacheCounter, CacheDay, CacheEntry, Device, utcnow
from shared.settings import Settings
from tests.dashboard.pages import ids, signed_in
from tests.support.cache import running_fast_embedded
from tests.support.sim import SimHandle

DEVICES = 10_000
BLOBS = 5_000
SNAPS = 500
DAYS = 30
ROUNDS = 7
OLD_DEVICES = 500  # last seen 2 to 29 days ago: in the 30-day figure, not the 24-hour one
GONE_DEVICES = 50  # last seen 40 days ago: in neither
PAGES = (
    "/dashboard/",
    "/dashboard/cache",
    "/dashboard/devices",
    "/dashboard/overrides",
    "/dashboard/offline",
    "/docs/",
    "/docs/dashboard.md",
)
# The yardstick, fetched in the same rounds: the gateway's cheapest answer (no database, no
# template). A page's time over it says what the page costs on whatever machine runs this.
YARDSTICK = "/_status/ping"


async def _seed(data_dir: Path) -> None:
    engine = create_engine(Settings(data_dir=data_dir))
    now = utcnow()
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            session.add_all(
                Device(
                    device_key=f"seed-brand/seed-model/serial-{number}",
                    brand_id="seed-brand",
                    model="seed-model",
                    serial=f"serial-{number}",
                    address=f"10.{number // 65536}.{number // 256 % 256}.{number % 256}",
                    first_seen=now - timedelta(days=number % 30),
                    last_seen=now - timedelta(minutes=number % 600),
                    sessions=1 + number % 5,
                    verified=True,
                )
                for number in range(DEVICES)
            )
            session.add_all(
                Device(
                    device_key=f"seed-brand/seed-model/old-{number}",
                    brand_id="seed-brand",
                    model="seed-model",
                    serial=f"old-{number}",
                    first_seen=now - timedelta(days=60),
                    last_seen=now - timedelta(days=2 + number % 28 if number < OLD_DEVICES else 40),
                    sessions=1,
                    verified=True,
                )
                for number in range(OLD_DEVICES + GONE_DEVICES)
            )
            session.add_all(
                CacheEntry(
                    sha3_384=hashlib.sha3_384(f"blob-{number}".encode()).hexdigest(),
                    snap_id=f"seed-snap-id-{number % SNAPS}",
                    name=f"seed-{number % SNAPS}",
                    revision=number,
                    size=1024 * (1 + number % 100),
                    pinned=number % 97 == 0,
                )
                for number in range(BLOBS)
            )
            session.add_all(
                CacheCounter(
                    name=f"seed-{number}",
                    hits=number * 3,
                    misses=number,
                    bytes_from_cache=number * 3_000_000,
                    bytes_from_upstream=number * 1_000_000,
                    failed_fills=0,
                    evictions=0,
                    bytes_relayed=number * 1_000_000,
                )
                for number in range(SNAPS)
            )
            session.add_all(  # the chart's 30 days, each with traffic
                CacheDay(
                    day=(now - timedelta(days=number)).date(),
                    hits=1000 + number,
                    misses=100 + number,
                    bytes_from_cache=(1 + number) * 10_000_000,
                    bytes_relayed=(1 + number) * 1_000_000,
                    bytes_from_upstream=(1 + number) * 2_000_000,
                )
                for number in range(DAYS)
            )
    finally:
        await engine.dispose()


def test_page_render_times_with_a_seeded_database(
    tmp_path: Path, dashboard_upstream: SimHandle
) -> None:
    with running_fast_embedded(tmp_path / "node", dashboard_upstream) as proxy:
        asyncio.run(_seed(proxy.data_dir))
        times: dict[str, list[float]] = {page: [] for page in (*PAGES, YARDSTICK)}
        with signed_in(proxy) as client:
            for _ in range(ROUNDS):
                for page in (*PAGES, YARDSTICK):
                    started = time.perf_counter()
                    answer = client.get(page)
                    times[page].append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200, (page, answer.text[:300])
            cache_page, devices = (
                client.get("/dashboard/cache").text,
                client.get("/dashboard/devices"),
            )
        cache = ids(cache_page)
        assert int(cache.text["cache-entries"]) >= BLOBS
        assert cache_page.count("<rect x=") == 2 * DAYS  # the chart: two bars a seeded day
        assert cache_page.count("<tr data-day=") == DAYS  # and its table
        figures = ids(devices.text).text
        assert int(figures["connected-devices"]) == DEVICES
        assert int(figures["connected-devices-30d"]) == DEVICES + OLD_DEVICES
        assert devices.text.count("serial-") >= 100  # the table: the 100 most recent
    medians = {page: round(statistics.median(found), 1) for page, found in times.items()}
    # The first round is the cold one (templates compiled, first queries): told apart.
    first = {page: round(found[0], 1) for page, found in times.items() if page != YARDSTICK}
    worst = {page: round(max(found[1:]), 1) for page, found in times.items()}
    yardstick = medians.pop(YARDSTICK)
    worst.pop(YARDSTICK)
    ratios = {page: round(median / yardstick, 1) for page, median in medians.items()}
    report = {
        "devices": DEVICES,
        "blobs": BLOBS,
        "median_ms": medians,
        "first_ms": first,
        "max_after_first_ms": worst,
        "yardstick_ms": {YARDSTICK: yardstick},
        "median_over_yardstick": ratios,
    }
    (tmp_path / "render-times.json").write_text(json.dumps(report, indent=2))
    print("dashboard render times (ms, through the embedded gateway):", json.dumps(report))
