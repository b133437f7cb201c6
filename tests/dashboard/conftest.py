"""The dashboard's fixtures: a simulator of its own and the cache's fast proxies (embedded and
split), so a page's figures are checked against the admin API on both topologies.

* ``sim``: the simulator (tests publish their own snaps), running, faults cleared.
* ``proxy``: each test that takes it runs on the embedded default and on the split topology
  (one downloads process behind nginx).
* ``new_snap(size)``: publish a snap nobody has asked the proxy for yet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.cache import Blob, publish, running_fast_embedded, running_fast_split
from tests.support.fixtures import sim_fixture, simulator_fixture
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

dashboard_upstream = simulator_fixture("dashboard_upstream", demo=False)
sim = sim_fixture("dashboard_upstream")


@pytest.fixture
def new_snap(sim: SimHandle) -> Callable[[int], Blob]:
    return lambda size: publish(sim, size, prefix="dash")


@pytest.fixture(scope="session")
def dashboard_embedded(
    tmp_path_factory: pytest.TempPathFactory, dashboard_upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    directory = tmp_path_factory.mktemp("dashboard-embedded")
    with running_fast_embedded(directory, dashboard_upstream) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def dashboard_split(
    tmp_path_factory: pytest.TempPathFactory, dashboard_upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    directory = tmp_path_factory.mktemp("dashboard-split")
    with running_fast_split(directory, dashboard_upstream, 1) as proxy:
        yield proxy


@pytest.fixture(params=["embedded", pytest.param("split", marks=pytest.mark.split)])
def proxy(request: pytest.FixtureRequest) -> ProxyUnderTest:
    fixture = {"embedded": "dashboard_embedded", "split": "dashboard_split"}[request.param]
    found: ProxyUnderTest = request.getfixturevalue(fixture)
    return found
