"""The cache page's newer parts, from the admin API's answers: the disk, the 30-day chart
(server-side SVG, with a table of the same figures), the top snaps by bytes saved and the
fills in progress. Plain values for the templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.devicegw.dashboard.admin_api import AdminApi
from shared.names import is_snap_name

DAYS = 30
TOP_SNAPS = 10
# The chart's drawing area, in SVG user units (the SVG scales to the page's width).
CHART_WIDTH = 720
CHART_HEIGHT = 200
CHART_LEFT = 70  # room for the scale's labels
CHART_BOTTOM = 24  # room for the dates
SERIES = (
    ("bytes-from-cache", "Served from cache", "#0e8420"),
    ("bytes-from-upstream", "Fetched upstream", "#c7162b"),
)


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # the bar's own <title>: what a pointer or a screen reader is told


def top_saved(snaps: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    """The snaps that saved the most bytes (sent to clients minus fetched upstream)."""
    rows: list[dict[str, Any]] = [{"name": name, **counts} for name, counts in snaps.items()]
    ranked = sorted(rows, key=lambda row: (-int(row["bytes-saved"]), str(row["name"])))
    return [row for row in ranked if int(row["bytes-saved"]) > 0][:TOP_SNAPS]


def chart(days: Sequence[Mapping[str, Any]], size: Any) -> dict[str, Any]:
    """Two bars a day (served from cache, fetched upstream), scaled to the busiest value."""
    plot_width = CHART_WIDTH - CHART_LEFT
    plot_height = CHART_HEIGHT - CHART_BOTTOM
    peak = max((int(day[key]) for day in days for key, _, _ in SERIES), default=0)
    slot = plot_width / max(len(days), 1)
    bar_width = slot * 0.4
    bars = []
    for index, day in enumerate(days):
        for offset, (key, label, colour) in enumerate(SERIES):
            value = int(day[key])
            height = plot_height * value / peak if peak else 0.0
            bars.append(
                Bar(
                    x=round(CHART_LEFT + index * slot + slot * 0.1 + offset * bar_width, 1),
                    y=round(plot_height - height, 1),
                    width=round(bar_width, 1),
                    height=round(height, 1),
                    colour=colour,
                    label=f"{day['day']}: {label.lower()} {size(value)}",
                )
            )
    served = sum(int(day["bytes-from-cache"]) for day in days)
    fetched = sum(int(day["bytes-from-upstream"]) for day in days)
    first, last = (days[0]["day"], days[-1]["day"]) if days else ("", "")
    return {
        "bars": bars,
        "peak": peak,
        "series": SERIES,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "left": CHART_LEFT,
        "plot_height": plot_height,
        "first": first,
        "last": last,
        "description": (
            f"Per UTC day from {first} to {last}: {size(served)} served from cache and "
            f"{size(fetched)} fetched upstream in all; the busiest value is {size(peak)}. "
            "The table below gives each day's figures."
        ),
    }


async def daily(api: AdminApi) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.call("GET", "/v1/cache/daily", params={"days": DAYS}))[
        "days"
    ]
    return found


async def fills(api: AdminApi) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await api.call("GET", "/v1/cache/fills"))["fills"]
    return found


def prefetch_message(query: Mapping[str, str]) -> str | None:
    """What a prefetch did, from its redirect's query (only well-formed values)."""
    name, revision, state = query.get("name"), query.get("revision"), query.get("state")
    if query.get("done") != "prefetch" or not (name and is_snap_name(name)):
        return None
    if not (revision and revision.isdigit()):
        return None
    wording = {
        "started": "fetching it now (see Fills in progress)",
        "filling": "already being fetched (see Fills in progress)",
        "cached": "already cached",
    }.get(state or "")
    return f"{name} revision {revision}: {wording}" if wording else None
