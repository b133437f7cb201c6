"""Upstream calls and the circuit breaker, and the devices, as the metrics show them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from tests.metrics.conftest import Monitored
from tests.support.sim import SimHandle

SESSIONS = "/api/v1/snaps/auth/sessions"
COOLDOWN = 10.0  # shared.upstream.CircuitBreaker's


def _eventually(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def test_upstream_failures_open_the_circuit_and_a_good_trial_closes_it(
    embedded_metrics: Monitored, sim: SimHandle
) -> None:
    """On the embedded default (its own proxy: an open circuit must not slow other tests)."""
    proxy = embedded_metrics.proxy
    before = embedded_metrics.scrape()
    assert before.value("snapproxy_upstream_circuit_open") == 0
    sim.set_faults(error_status=503, error_paths=["/v2/snaps/info"])
    with proxy.client() as device:
        for index in range(7):  # 5 failures open it; the next ones are refused at once
            answer = device.get(f"/v2/snaps/info/metrics-down-{uuid.uuid4().hex[:8]}-{index}")
            assert answer.status_code == 503, answer.text
    opened = embedded_metrics.scrape()

    def grew(name: str, **labels: str) -> float:
        return opened.value(name, **labels) - before.value(name, **labels)

    assert opened.value("snapproxy_upstream_circuit_open") == 1
    assert grew("snapproxy_upstream_circuit_opened_total") == 1
    assert grew("snapproxy_upstream_errors_total", reason="status") == 5
    assert grew("snapproxy_upstream_errors_total", reason="circuit-open") == 2
    assert grew("snapproxy_upstream_requests_total", method="GET", status="503") == 5

    sim.clear_faults()
    time.sleep(COOLDOWN)

    def closed() -> bool:
        with proxy.client() as device:  # the trial call: the upstream answers (404)
            device.get(f"/v2/snaps/info/metrics-up-{uuid.uuid4().hex[:8]}")
        return embedded_metrics.scrape().value("snapproxy_upstream_circuit_open") == 0

    _eventually(closed, 60, "the circuit did not close after the upstream came back")
    after = embedded_metrics.scrape()
    assert after.value("snapproxy_upstream_requests_total", method="GET", status="404") > (
        before.value("snapproxy_upstream_requests_total", method="GET", status="404")
    )


def _session_body() -> dict[str, str]:
    return {
        "device-session-request": "type: device-session-request\n...",
        "serial-assertion": "this is not an assertion",
        "model-assertion": "type: model\n...",
    }


def test_devices_are_counted_from_the_registry(monitored: Monitored, sim: SimHandle) -> None:
    def registry_size() -> int:
        with monitored.proxy.admin() as admin:
            response = admin.get("/v1/devices", params={"limit": 1000})
        assert response.status_code == 200, response.text
        return len(response.json()["devices"])

    before = monitored.scrape_service("auth")
    assert before.value("snapproxy_devices") == registry_size()
    agent = f"snapd/2.57.6 (series 16; classic) metrics/{uuid.uuid4().hex[:8]}"
    with monitored.proxy.client(**{"User-Agent": agent}) as device:
        for _ in range(2):  # one new device, two sessions
            assert device.post(SESSIONS, json=_session_body()).status_code == 200
    after = monitored.scrape_service("auth")
    assert after.value("snapproxy_devices") == before.value("snapproxy_devices") + 1
    assert after.value("snapproxy_devices") == registry_size()
    granted = {"outcome": "granted"}
    assert (
        after.value("snapproxy_device_sessions_total", **granted)
        - before.value("snapproxy_device_sessions_total", **granted)
        == 2
    )
