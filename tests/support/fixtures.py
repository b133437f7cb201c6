"""Shared fixtures (a pytest plugin, loaded by ``tests/conftest.py``): the store simulator
with its demo catalogue as the upstream, and the proxy in both topologies in front of it.

``embedded`` is ``snap-proxy serve`` on SQLite; ``split`` is one process per service behind
nginx on PostgreSQL and memcached. Tests that hold for both take ``any_proxy``.

A simulator fixture is made one way, by :func:`simulator_fixture` (a session's simulator)
and :func:`sim_fixture` (that simulator, running, faults cleared and stats zeroed, for one
test). ``upstream`` and ``sim`` here are the demo catalogue's; a folder that needs another
simulator makes its own with the same two (the cache tests: no demo catalogue).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.infra import running_split
from tests.support.proxies import ADMIN_TOKEN, EmbeddedProxy, ProxyUnderTest
from tests.support.sim import SimHandle, start_simulator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GENUINE_ASSERTIONS = FIXTURES / "canonical-assertions"


def simulator_fixture(name: str, *, demo: bool, genuine_assertions: bool = False) -> Any:
    """A session fixture: a simulator of its own (``demo``: with the demo catalogue;
    ``genuine_assertions``: with the five genuine Canonical assertions imported)."""

    @pytest.fixture(scope="session", name=name)
    def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
        handle = start_simulator(tmp_path_factory.mktemp(name) / "data", demo=demo)
        try:
            if genuine_assertions:
                assertions = sorted(GENUINE_ASSERTIONS.glob("*.assert"))
                handle.cli("import-assertions", *map(str, assertions))
            yield handle
        finally:
            handle.stop()

    return simulator


def sim_fixture(session_simulator: str) -> Callable[..., Iterator[SimHandle]]:
    """A test's fixture ``sim``: the simulator of the session fixture ``session_simulator``,
    running, with faults cleared and stats zeroed (and running, faults cleared, after)."""

    @pytest.fixture(name="sim")
    def sim(request: pytest.FixtureRequest) -> Iterator[SimHandle]:
        handle: SimHandle = request.getfixturevalue(session_simulator)
        if not handle.running:
            handle.start()
        handle.clear_faults()
        handle.reset()
        yield handle
        if not handle.running:
            handle.start()
        handle.clear_faults()

    return sim


upstream = simulator_fixture("upstream", demo=True, genuine_assertions=True)
sim = sim_fixture("upstream")


@pytest.fixture(scope="session")
def embedded(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    data_dir = tmp_path_factory.mktemp("proxy-embedded")
    proxy = EmbeddedProxy(data_dir, SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN, **upstream.proxy_env())
    proxy.start()
    yield ProxyUnderTest("embedded", proxy.url, data_dir, embedded=proxy)
    proxy.stop()


@pytest.fixture(scope="session")
def split(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    base = tmp_path_factory.mktemp("proxy-split")
    with running_split(
        base / "run", base / "data", upstream.proxy_env(), SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN
    ) as topology:
        yield ProxyUnderTest(
            "split",
            topology.gateway_url,
            base / "data",
            services=topology.service_urls,
            topology=topology,
        )


@pytest.fixture(params=["embedded", pytest.param("split", marks=pytest.mark.split)])
def any_proxy(request: pytest.FixtureRequest) -> ProxyUnderTest:
    """Each test that takes it runs on the embedded default and on the split topology."""
    proxy: ProxyUnderTest = request.getfixturevalue(request.param)
    return proxy
