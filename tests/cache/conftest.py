"""Fixtures for the download cache: a simulator of our own, and proxies tuned for fast faults.

* ``sim``: the simulator (no demo catalogue: tests publish their own snaps with
  :func:`tests.support.cache.publish`, so no test sees another's cache state), running,
  faults cleared, stats zeroed.
* ``embedded_cache``: ``snap-proxy serve`` (SQLite, in-process cache).
* ``split_cache``: the split topology with **two** downloads replicas behind nginx
  (PostgreSQL, memcached), so fills are shared across processes.
* ``proxy``: each test that takes it runs on both.
* ``split_single``: the split topology with one downloads process.
* ``dedicated_embedded``: a factory for an embedded proxy with settings of the test's own.

Both shared proxies use short fill lease and upstream read timeouts so that stalls and dead
fill owners are noticed in seconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cache import Blob, publish, running_fast_embedded, running_fast_split
from tests.support.fixtures import sim_fixture, simulator_fixture
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

cache_upstream = simulator_fixture("cache_upstream", demo=False)
sim = sim_fixture("cache_upstream")


@pytest.fixture
def new_snap(sim: SimHandle) -> Callable[[int], Blob]:
    """``new_snap(size)``: publish a snap nobody has asked the proxy for yet."""
    return lambda size: publish(sim, size)


@pytest.fixture(scope="session")
def embedded_cache(
    tmp_path_factory: pytest.TempPathFactory, cache_upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    with running_fast_embedded(tmp_path_factory.mktemp("cache-embedded"), cache_upstream) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def split_cache(
    tmp_path_factory: pytest.TempPathFactory, cache_upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    """Two downloads replicas behind nginx."""
    with running_fast_split(tmp_path_factory.mktemp("cache-split"), cache_upstream, 2) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def split_single(
    tmp_path_factory: pytest.TempPathFactory, cache_upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    """One downloads process behind nginx, as ``make run-split`` starts it."""
    with running_fast_split(tmp_path_factory.mktemp("cache-split1"), cache_upstream, 1) as proxy:
        yield proxy


@pytest.fixture(params=["embedded", pytest.param("split", marks=pytest.mark.split)])
def proxy(request: pytest.FixtureRequest) -> ProxyUnderTest:
    """The embedded default and the split topology (two downloads replicas)."""
    fixture = {"embedded": "embedded_cache", "split": "split_cache"}[request.param]
    found: ProxyUnderTest = request.getfixturevalue(fixture)
    return found


@pytest.fixture
def dedicated_embedded(
    tmp_path: Path, cache_upstream: SimHandle
) -> Iterator[Callable[..., ProxyUnderTest]]:
    """``dedicated_embedded(data_dir=None, **SNAPPROXY_env)``: an embedded proxy of the
    test's own, stopped at the end of the test."""
    with contextlib.ExitStack() as stack:

        def start(data_dir: Path | None = None, **env: str) -> ProxyUnderTest:
            data_dir = data_dir or tmp_path / "proxy"
            return stack.enter_context(running_fast_embedded(data_dir, cache_upstream, **env))

        yield start
