"""Fixtures for the device API: the simulator as upstream, the proxy in both topologies.

``proxy`` is the embedded default (``snap-proxy serve`` on SQLite); ``split_proxy`` is one
process per service behind nginx on PostgreSQL and memcached. Tests that hold for both take
``any_proxy``, parametrized over the two.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import EmbeddedProxy
from tests.support.infra import running_split
from tests.support.sim import SimHandle, start_simulator

ADMIN_TOKEN = "test-admin-token"
DEVICE_HEADERS = {
    "Snap-Device-Architecture": "amd64",
    "Snap-Device-Series": "16",
    "Snap-Classic": "true",
    "User-Agent": "snapd/2.57.6 (series 16; classic) debian/12 (amd64) linux/6.1",
}


@dataclass
class ProxyUnderTest:
    """What a test needs of a running proxy, whatever the topology."""

    name: str
    url: str
    data_dir: Path

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, headers={**DEVICE_HEADERS, **headers})

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    """The simulator with its demo catalogue and the genuine Canonical assertions."""
    handle = start_simulator(tmp_path_factory.mktemp("upstream") / "data", demo=True)
    fixtures = Path(__file__).resolve().parents[1] / "fixtures/canonical-assertions"
    handle.cli(
        "import-assertions",
        "--data-dir",
        str(handle.data_dir),
        *map(str, sorted(fixtures.glob("*.assert"))),
    )
    yield handle
    handle.stop()


@pytest.fixture
def sim(upstream: SimHandle) -> Iterator[SimHandle]:
    """The session upstream, running, with faults cleared and stats zeroed."""
    if not upstream.running:
        upstream.start()
    upstream.clear_faults()
    upstream.reset()
    yield upstream
    if not upstream.running:
        upstream.start()
    upstream.clear_faults()


@pytest.fixture(scope="session")
def embedded(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    data_dir = tmp_path_factory.mktemp("proxy-embedded")
    proxy = EmbeddedProxy(
        data_dir, SNAPPROXY_UPSTREAM_URL=upstream.api_url, SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN
    )
    proxy.start()
    yield ProxyUnderTest("embedded", proxy.url, data_dir)
    proxy.stop()


@pytest.fixture(scope="session")
def split(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    base = tmp_path_factory.mktemp("proxy-split")
    with running_split(
        base / "run",
        base / "data",
        SNAPPROXY_UPSTREAM_URL=upstream.api_url,
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
    ) as topology:
        yield ProxyUnderTest("split", topology.gateway_url, base / "data")


@pytest.fixture(params=["embedded", "split"])
def any_proxy(request: pytest.FixtureRequest) -> ProxyUnderTest:
    proxy: ProxyUnderTest = request.getfixturevalue(request.param)
    return proxy
