"""The overview's upstream part: each service's upstream check (as ``status`` gathers it)
and circuit breaker (``/_status/<service>/upstream``), the mode and the registration."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from shared.status_report import DISPLAY_NAMES, gather
from shared.upstream import CircuitBreaker
from tests.dashboard.pages import ids, signed_in
from tests.support.proxies import ADMIN_TOKEN, ProxyUnderTest
from tests.support.sim import SimHandle

COOLDOWN = CircuitBreaker().cooldown


def _row(html: str, service: str) -> str:
    parts = html.split(f'data-service="{service}"', 1)
    assert len(parts) == 2, f"{service} is not in the upstream table"
    return parts[1].split("</tr>", 1)[0]


def _breakers(proxy: ProxyUnderTest) -> dict[str, dict[str, object]]:
    with httpx.Client(base_url=proxy.url, timeout=30) as client:
        found = {}
        for name in DISPLAY_NAMES:
            answer = client.get(f"/_status/{name}/upstream")  # public, like /_status/check
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["service"] == name and body["airgap"] is False
            found[name] = body["breaker"]
    return found


def test_overview_shows_the_upstream_mode_and_registration(proxy: ProxyUnderTest) -> None:
    report = asyncio.run(gather(proxy.url, ADMIN_TOKEN))
    breakers = _breakers(proxy)
    with signed_in(proxy) as client:
        page = client.get("/dashboard/")
    assert page.status_code == 200
    found = ids(page.text)
    assert found.text["mode"] == "online"
    assert found.text["store-id"] == "not registered"  # as `snap-proxy status` words it
    assert found.text["registration"] == "not registered"
    assert found.text["upstream"] == "reachable"
    assert "warnings" not in found.text  # status warns only in airgap mode
    for name, display in DISPLAY_NAMES.items():
        row = _row(page.text, display)
        check = report.checks[name]["checks"].get("upstream")
        if check is None:  # revisions and downloads register no upstream check
            assert "no upstream check" in row
        else:
            assert check["ok"] is True and ">reachable<" in row
        assert breakers[name]["state"] == "closed"
        assert 'data-state="closed"' in row


def _state(proxy: ProxyUnderTest, service: str) -> str:
    with signed_in(proxy) as client:
        page = client.get("/dashboard/")
    assert page.status_code == 200
    row = _row(page.text, service)
    return row.split('data-state="', 1)[1].split('"', 1)[0]


def test_the_overview_shows_a_breaker_opened_and_closed_again(
    proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    """Five upstream failures of devicegw's calls open its breaker: the overview says so
    (in the split topology only devicegw's: each process has its own); once the upstream is
    back and the cooldown over, a good trial closes it, and the overview says that too."""
    sim.set_faults(error_status=503, error_paths=["/v2/snaps/info"])
    try:
        with proxy.client() as device:
            for index in range(6):
                device.get(f"/v2/snaps/info/dash-down-{uuid.uuid4().hex[:8]}-{index}")
        assert _state(proxy, "snapdevicegw") == "open"
        assert _breakers(proxy)["devicegw"]["state"] == "open"
        with signed_in(proxy) as client:
            row = _row(client.get("/dashboard/").text, "snapdevicegw")
        assert "a trial in" in row
        others = "open" if proxy.name == "embedded" else "closed"  # one client when embedded
        assert _state(proxy, "snapauth") == others
    finally:
        sim.clear_faults()
        time.sleep(COOLDOWN)
        deadline = time.monotonic() + 60
        while _breakers(proxy)["devicegw"]["state"] != "closed":
            assert time.monotonic() < deadline, "the breaker did not close"
            with proxy.client() as device:  # the trial: the upstream answers (404)
                device.get(f"/v2/snaps/info/dash-up-{uuid.uuid4().hex[:8]}")
            time.sleep(0.2)
    assert _state(proxy, "snapdevicegw") == "closed"
    assert _state(proxy, "snapauth") == "closed"


def test_breaker_state_words() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown=0.3)
    assert breaker.state() == {"state": "closed", "consecutive-failures": 0}
    breaker.record_failure()
    assert breaker.state() == {"state": "closed", "consecutive-failures": 1}
    breaker.record_failure()
    opened = breaker.state()
    assert opened["state"] == "open" and 0 < opened["retry-in"] <= 0.3
    time.sleep(0.35)
    assert breaker.state()["state"] == "half-open"
    assert breaker.allow()  # the trial goes out
    assert breaker.state()["state"] == "half-open"
    breaker.record_success()
    assert breaker.state() == {"state": "closed", "consecutive-failures": 0}
