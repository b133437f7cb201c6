"""Fixtures of the metrics tests: the proxy in both topologies, with where to scrape it.

* ``embedded_metrics``: ``snap-proxy serve`` with its metrics listener (``metrics.port``).
* ``split``: the shared split topology (``tests/support/fixtures.py``): each service
  answers ``/metrics`` on its own port.
* ``monitored``: each test that takes it runs on both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from shared.split import free_port
from tests.support.metrics import Scrape, scrape, scrape_all
from tests.support.proxies import ADMIN_TOKEN, EmbeddedProxy, ProxyUnderTest
from tests.support.sim import SimHandle


@dataclass(frozen=True)
class Monitored:
    """A running proxy and the addresses its metrics are scraped at (by service, or the
    embedded default's one listener)."""

    proxy: ProxyUnderTest
    targets: dict[str, str]

    def scrape(self) -> Scrape:
        return scrape_all(self.targets)

    def scrape_service(self, service: str) -> Scrape:
        """One service's metrics (embedded: the one listener has every service's)."""
        return scrape(self.targets.get(service) or self.targets["embedded"])


@pytest.fixture(scope="session")
def embedded_metrics(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[Monitored]:
    data_dir = tmp_path_factory.mktemp("proxy-metrics")
    metrics_port = free_port()
    proxy = EmbeddedProxy(
        data_dir,
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        SNAPPROXY_METRICS_PORT=str(metrics_port),
        **upstream.proxy_env(),
    )
    proxy.start()
    try:
        yield Monitored(
            ProxyUnderTest("embedded", proxy.url, data_dir, embedded=proxy),
            {"embedded": f"http://127.0.0.1:{metrics_port}"},
        )
    finally:
        proxy.stop()


@pytest.fixture(params=["embedded", pytest.param("split", marks=pytest.mark.split)])
def monitored(request: pytest.FixtureRequest) -> Monitored:
    if request.param == "embedded":
        found: Monitored = request.getfixturevalue("embedded_metrics")
        return found
    split: ProxyUnderTest = request.getfixturevalue("split")
    return Monitored(split, dict(split.services))
