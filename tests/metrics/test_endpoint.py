"""``/metrics``: answered on each service's own port (the embedded default: its metrics
listener) for the monitoring system, never through either gateway."""

from __future__ import annotations

import httpx
import pytest

from shared.routes import service_for_path
from shared.settings import SERVICE_NAMES
from tests.metrics.conftest import Monitored
from tests.support.proxies import DEVICE_HEADERS

# Ways a device might try to reach a service's /metrics through the gateway.
GATEWAY_PATHS = (
    "/metrics",
    "/metrics/",
    "//metrics",
    "/Metrics",
    "/metrics?name[]=snapproxy_devices",
    "/_status/metrics",
    "/_status/downloads/metrics",
    "/_status/auth/%2e%2e/metrics",
    "/_status/devicegw/../../metrics",
    "/v1/cache/%2e%2e/%2e%2e/metrics",
    "/download/..%2f..%2fmetrics",
)


def test_metrics_is_in_no_route_of_the_table() -> None:
    assert service_for_path("/metrics") is None


def _assert_refused(response: httpx.Response, *statuses: int) -> None:
    """A Store-shaped refusal (``statuses``, default 404 not-found), never the metrics."""
    allowed = statuses or (404,)
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    errors = response.json()["error-list"]
    assert errors and errors[0]["code"], response.text
    if response.status_code == 404:
        assert errors[0]["code"] == "not-found", response.text
    assert "snapproxy_" not in response.text


def test_the_gateway_answers_metrics_with_404(monitored: Monitored) -> None:
    with monitored.proxy.client() as device:
        _assert_refused(device.get("/metrics"))


@pytest.mark.parametrize("path", GATEWAY_PATHS)
def test_not_even_the_admin_reaches_metrics_through_the_gateway(
    monitored: Monitored, path: str
) -> None:
    with monitored.proxy.admin() as admin:  # the admin token opens /v1/cache, not /metrics
        response = admin.get(path)
    # nginx refuses a path that climbs above the root as malformed (400).
    _assert_refused(response, 404, 400)


def test_every_service_answers_metrics_on_its_own_port(monitored: Monitored) -> None:
    name = "snapproxy_http_requests_total"
    before = {service: monitored.scrape_service(service) for service in SERVICE_NAMES}
    with monitored.proxy.client() as device:  # each service's ping, through the gateway
        for service in SERVICE_NAMES:
            assert device.get(f"/_status/{service}/ping").status_code == 200
    for service in SERVICE_NAMES:
        after = monitored.scrape_service(service)
        ping = {"service": service, "route": "/_status/ping", "status": "200"}
        assert after.value(name, **ping) - before[service].value(name, **ping) == 1, service
        if monitored.targets.get(service):  # split: a service's port has its metrics only
            assert after.label_values(name, "service") == {service}


def test_requests_are_counted_by_route_template_and_status(monitored: Monitored) -> None:
    name = "snapproxy_http_requests_total"
    route = {"service": "devicegw", "route": "/v2/snaps/info/{name}", "method": "GET"}
    before = monitored.scrape_service("devicegw")
    with httpx.Client(base_url=monitored.proxy.url, timeout=30, headers=DEVICE_HEADERS) as c:
        for _ in range(3):
            assert c.get("/v2/snaps/info/hello-sim").status_code == 200
        for index in range(2):
            assert c.get(f"/v2/snaps/info/no-such-snap-{index}").status_code == 404
        assert c.get("/v2/snaps/zzz-unrouted-7f3").status_code == 404
    after = monitored.scrape_service("devicegw")
    assert after.value(name, **route, status="200") - before.value(name, **route, status="200") == 3
    assert after.value(name, **route, status="404") - before.value(name, **route, status="404") == 2
    unmatched = {"service": "devicegw", "route": "<unmatched>", "status": "404"}
    assert after.value(name, **unmatched) - before.value(name, **unmatched) >= 1
    # Raw paths never become labels: the cardinality stays bounded.
    routes = after.label_values(name, "route")
    assert not [r for r in routes if "hello-sim" in r or "no-such-snap" in r or "7f3" in r]
    histogram = "snapproxy_http_request_duration_seconds_count"
    assert after.value(histogram, **route) - before.value(histogram, **route) == 5
    assert after.value("snapproxy_http_request_duration_seconds_bucket", **route, le="+Inf") >= 5


def test_the_embedded_metrics_listener_answers_metrics_only(embedded_metrics: Monitored) -> None:
    """The embedded default's listener: /metrics, and a 404 in the Store's shape for any
    public path (it is not a second way into the services)."""
    listener = embedded_metrics.targets["embedded"]
    with httpx.Client(base_url=listener, timeout=30, headers=DEVICE_HEADERS) as client:
        for path in ("/", "/v2/snaps/info/hello-sim", "/_status/check", "/v1/devices"):
            _assert_refused(client.get(path))
        assert client.get("/metrics").status_code == 200
