"""The cache page's chart, drawn on the server: bars scaled to the busiest value, a label
for each bar, a description of the whole; and the prefetch message read from a redirect."""

from __future__ import annotations

from services.devicegw.dashboard import cache_page
from shared.sizes import human_size


def _day(day: str, from_cache: int, upstream: int) -> dict[str, object]:
    return {
        "day": day,
        "hits": 0,
        "misses": 0,
        "bytes-from-cache": from_cache,
        "bytes-relayed": 0,
        "bytes-from-upstream": upstream,
    }


def test_bars_are_scaled_to_the_busiest_value() -> None:
    days = [_day("2026-12-05", 4096, 1024), _day("2026-12-06", 0, 2048)]
    chart = cache_page.chart(days, human_size)
    plot = cache_page.CHART_HEIGHT - cache_page.CHART_BOTTOM
    heights = [bar.height for bar in chart["bars"]]
    assert heights == [plot, plot / 4, 0.0, plot / 2]
    for bar in chart["bars"]:
        assert bar.y + bar.height == plot  # every bar stands on the axis
        assert cache_page.CHART_LEFT <= bar.x < cache_page.CHART_WIDTH
    assert chart["bars"][0].label == "2026-12-05: served from cache 4.0 KiB"
    assert chart["bars"][3].label == "2026-12-06: fetched upstream 2.0 KiB"
    assert chart["peak"] == 4096
    assert chart["description"].startswith(
        "Per UTC day from 2026-12-05 to 2026-12-06: 4.0 KiB served from cache and "
        "3.0 KiB fetched upstream in all"
    )


def test_a_quiet_month_draws_no_bar() -> None:
    chart = cache_page.chart([_day("2026-12-06", 0, 0)], human_size)
    assert [bar.height for bar in chart["bars"]] == [0.0, 0.0]
    assert cache_page.chart([], human_size)["bars"] == []


def test_top_saved_ranks_by_bytes_saved_and_leaves_out_the_rest() -> None:
    snaps = {
        "a": {"bytes-saved": 10},
        "b": {"bytes-saved": 30},
        "c": {"bytes-saved": 0},
        "d": {"bytes-saved": -5},
        "e": {"bytes-saved": 30},
    }
    assert [row["name"] for row in cache_page.top_saved(snaps)] == ["b", "e", "a"]


def test_the_prefetch_message_takes_only_well_formed_values() -> None:
    good = {"done": "prefetch", "name": "hello", "revision": "12", "state": "cached"}
    assert cache_page.prefetch_message(good) == "hello revision 12: already cached"
    for bad in (
        {**good, "name": "<b>x</b>"},
        {**good, "revision": "1; drop"},
        {**good, "state": "owned"},
        {**good, "done": "evict"},
    ):
        assert cache_page.prefetch_message(bad) is None
