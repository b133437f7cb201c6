"""deploy/grafana/snapproxy.json asks only for metrics a running proxy exports, and
docs/metrics.md describes every metric it exports: both checked against real scrapes after
real traffic (a ``snap download`` miss and hit, a metadata lookup, a device session)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.metrics.conftest import Monitored
from tests.support.cache import publish
from tests.support.metrics import Scrape
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "snapproxy.json"
DOCS = REPO / "docs" / "metrics.md"
METRIC = re.compile(r"\bsnapproxy_[a-z0-9_]+\b")
SESSIONS = "/api/v1/snaps/auth/sessions"


def dashboard_queries() -> list[str]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries.append(target["expr"])
    return queries


def test_every_panel_has_a_query_naming_a_snapproxy_metric() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    graphs = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len(graphs) >= 15
    for panel in graphs:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert METRIC.search(target["expr"]), (panel["title"], target["expr"])
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def _traffic(monitored: Monitored, sim: SimHandle, directory: Path) -> Scrape:
    """Some of everything, then every service's metrics."""
    blob = publish(sim, 300 * 1024, prefix="metrics-dashboard")
    for attempt in ("miss", "hit"):
        result = snap_download(monitored.proxy.url, blob.name, cwd=directory / attempt)
        assert result.fetched_snap, result.describe()
    with monitored.proxy.client() as device:
        device.get(f"/v2/snaps/info/metrics-unknown-{uuid.uuid4().hex[:8]}")  # an upstream call
        body = {
            "device-session-request": "type: device-session-request\n...",
            "serial-assertion": "this is not an assertion",
            "model-assertion": "type: model\n...",
        }
        assert device.post(SESSIONS, json=body).status_code == 200
    return monitored.scrape()


@pytest.fixture
def scraped(monitored: Monitored, sim: SimHandle, tmp_path: Path) -> Scrape:
    return _traffic(monitored, sim, tmp_path)


def test_every_dashboard_query_names_an_exported_metric(scraped: Scrape) -> None:
    exported = scraped.names()
    asked = {name for query in dashboard_queries() for name in METRIC.findall(query)}
    assert asked, "the dashboard asks for nothing"
    assert sorted(asked - exported) == []


def test_the_docs_describe_every_exported_metric(scraped: Scrape) -> None:
    documented = set(METRIC.findall(DOCS.read_text()))
    families = {
        re.sub(r"_(bucket|count|sum)$", "", name)
        for name in scraped.names()
        if name.startswith("snapproxy_") and not name.endswith("_created")
    }
    assert len(families) >= 20
    assert sorted(families - documented) == []
    # And nothing documented that is not exported (a renamed metric left behind).
    assert sorted(documented - families - scraped.names()) == []
